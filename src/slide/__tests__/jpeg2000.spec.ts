/** The JPEG 2000 decoder builds (WASM in Node, self-contained JS for browsers without the .wasm asset) agree. */
jest.mock('quick-lru', () => require('./quickLruShim'));
import * as fs from 'fs';
import * as path from 'path';
import { configureJpeg2000, decodeJpeg2000 } from '../jpeg2000';
import { sharedDataDir } from './helpers';
import { requireOrSkip } from '../../__tests__/requirements';

const data = sharedDataDir();
const maybe = requireOrSkip('JPEG 2000 on a real Aperio slide', data ? [] : ['../shared/data/slides (set UGA_DATA)'])
  ? describe
  : describe.skip;

/** Byte range of tile `index` of the first IFD of a little-endian classic TIFF (enough for the TCGA SVS). */
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

maybe('JPEG 2000 decoding', () => {
  afterAll(() => configureJpeg2000({}));

  it('gives identical pixels from the WASM and the JS build', async () => {
    const svs = fs.readFileSync(path.join(data!, 'slides', 'TCGA-CR-7395-01A-01-TS1.svs'));
    const tile = new Uint8Array(firstIfdTile(svs, 40));
    configureJpeg2000({});
    const wasm = await decodeJpeg2000(tile);
    configureJpeg2000({ build: 'js' });
    const js = await decodeJpeg2000(tile);
    expect([wasm.width, wasm.height, wasm.components]).toEqual([256, 256, 3]);
    expect(Buffer.from(js.data).equals(Buffer.from(wasm.data))).toBe(true);
    // H&E tissue, not a flat or garbage tile
    const mean = [0, 1, 2].map(c => wasm.data.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / (256 * 256));
    expect(mean[0]).toBeGreaterThan(mean[1]);
  });

  it('fails with an error on a corrupt codestream', async () => {
    configureJpeg2000({});
    await expect(decodeJpeg2000(new Uint8Array([0xff, 0x4f, 0xff, 0x51, 0, 0]))).rejects.toMatchObject({
      name: 'SlideError',
      kind: 'decode',
      message: expect.stringContaining('JPEG 2000')
    });
  });
});
