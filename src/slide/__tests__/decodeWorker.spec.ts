/** The slide reader's decoder worker (decode.worker.ts) answers geotiff's pool protocol, JPEG 2000 included. */
jest.mock('quick-lru', () => require('./quickLruShim'));
import * as fs from 'fs';
import * as path from 'path';
import { configureJpeg2000, decodeJpeg2000 } from '../jpeg2000';
import { sharedDataDir } from './helpers';
import { requireOrSkip } from '../../__tests__/requirements';

const data = sharedDataDir();
const maybe = requireOrSkip('decoder worker on a real Aperio JPEG 2000 slide', data ? [] : ['../shared/data/slides (set UGA_DATA)'])
  ? describe
  : describe.skip;

type Listener = (ev: { data: unknown }) => void;
const posted: { message: Record<string, unknown>; transfer?: unknown[] }[] = [];
let listener: Listener | null = null;

beforeAll(async () => {
  // The worker's global scope, as the module sees it.
  (globalThis as unknown as { self: unknown }).self = {
    addEventListener: (_: string, l: Listener) => (listener = l),
    postMessage: (message: Record<string, unknown>, transfer?: unknown[]) => posted.push({ message, transfer })
  };
  await import('../decode.worker');
});

afterAll(() => {
  configureJpeg2000({});
  delete (globalThis as { self?: unknown }).self;
});

async function job(message: Record<string, unknown>): Promise<Record<string, unknown>> {
  const before = posted.length;
  listener!({ data: message });
  for (let i = 0; i < 500 && posted.length === before; i++) {
    await new Promise(r => setTimeout(r, 10));
  }
  return posted[before].message;
}

/** Byte range of tile `index` of the first IFD of a little-endian classic TIFF. */
function firstIfdTile(bytes: Buffer, index: number): Buffer {
  const ifd = bytes.readUInt32LE(4);
  const n = bytes.readUInt16LE(ifd);
  let offsets = 0;
  let counts = 0;
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    const tag = bytes.readUInt16LE(e);
    if (tag === 324) {
      offsets = bytes.readUInt32LE(e + 8);
    }
    if (tag === 325) {
      counts = bytes.readUInt32LE(e + 8);
    }
  }
  const off = bytes.readUInt32LE(offsets + 4 * index);
  const cnt = bytes.readUInt32LE(counts + 4 * index);
  return bytes.subarray(off, off + cnt);
}

describe('decoder worker protocol', () => {
  it('decodes with geotiff decoders and answers errors with the job id', async () => {
    const raw = new Uint8Array([1, 2, 3, 4]);
    const ok = await job({
      compression: 1,
      decoderParameters: { tileWidth: 1, tileHeight: 1, predictor: 1, bitsPerSample: [8], planarConfiguration: 1 },
      buffer: raw.buffer,
      jobId: 7
    });
    expect(ok.jobId).toBe(7);
    expect(Array.from(new Uint8Array(ok.decoded as ArrayBuffer))).toEqual([1, 2, 3, 4]);
    const bad = await job({ compression: 4242, decoderParameters: {}, buffer: new ArrayBuffer(4), jobId: 8 });
    expect(bad.jobId).toBe(8);
    expect(String(bad.error)).toMatch(/4242/);
  });
});

maybe('decoder worker, JPEG 2000', () => {
  it('decodes an Aperio J2K tile to the pixels of the page decoder, with the page settings', async () => {
    const svs = fs.readFileSync(path.join(data!, 'slides', 'TCGA-CR-7395-01A-01-TS1.svs'));
    const tile = new Uint8Array(firstIfdTile(svs, 40));
    const want = await decodeJpeg2000(tile);
    const msg = await job({
      compression: 33005,
      decoderParameters: {
        tileWidth: 512,
        tileHeight: 512,
        predictor: 1,
        bitsPerSample: [8, 8, 8],
        planarConfiguration: 1,
        openjpeg: { build: 'js' }
      },
      buffer: tile.slice().buffer,
      jobId: 9
    });
    expect(msg.error).toBeUndefined();
    expect(Buffer.from(new Uint8Array(msg.decoded as ArrayBuffer)).equals(Buffer.from(want.data))).toBe(true);
  });
});
