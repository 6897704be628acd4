/**
 * The six shared slides open with the right levels, sizes, pixel sizes and
 * colours. Reference colours come from an independent decoder (tifffile +
 * imagecodecs, see bench/open/reference_colours.py): mean RGB of a 32 x 32
 * patch at the centre of each level.
 */
jest.mock('quick-lru', () => require('./quickLruShim'));
import * as fs from 'fs';
import * as path from 'path';
import { openSlide } from '../open';
import { disposeDecoderPool } from '../tiff';
import { fileFetch, meanRgb, sharedDataDir } from './helpers';
import { requireOrSkip } from '../../__tests__/requirements';

const data = sharedDataDir();
const maybe = requireOrSkip('shared slides', data ? [] : ['../shared/data/slides (set UGA_DATA)']) ? describe : describe.skip;

interface Expected {
  format: string;
  levels: [number, number][];
  mpp?: number;
  /** Reference mean RGB of a 32x32 patch at (x, y) of each level. */
  colours: { x: number; y: number; mean: [number, number, number] }[];
}

const EXPECTED: Record<string, Expected> = {
  'CMU-1-Small-Region.svs': {
    format: 'aperio-svs',
    levels: [[2220, 2967]],
    mpp: 0.499,
    colours: [{ x: 1094, y: 1467, mean: [119.9, 77.7, 120.3] }]
  },
  'TCGA-CR-7395-01A-01-TS1.svs': {
    format: 'aperio-svs',
    levels: [
      [4443, 3567],
      [2221, 1783]
    ],
    colours: [
      { x: 2205, y: 1767, mean: [204.1, 134.1, 173.1] },
      { x: 1094, y: 875, mean: [206.5, 141.1, 176.2] }
    ]
  },
  'OS-1-detail.ome.tif': {
    format: 'ome-tiff',
    levels: [[1101, 1101]],
    mpp: 0.2271,
    colours: [{ x: 534, y: 534, mean: [159.9, 135.6, 191.1] }]
  },
  'OS-2-ndpi.ome.tif': {
    format: 'ome-tiff',
    levels: [[2202, 2202]],
    mpp: 0.2271,
    colours: [{ x: 1085, y: 1085, mean: [147.2, 171.8, 199.7] }]
  },
  'OS-2-vsi.ome.tif': {
    format: 'ome-tiff',
    levels: [[1445, 1445]],
    mpp: 0.346,
    colours: [{ x: 706, y: 706, mean: [185.2, 197.2, 205.2] }]
  },
  'boxes.tiff': {
    format: 'tiff',
    levels: [
      [300, 250],
      [150, 125],
      [75, 62],
      [37, 31]
    ],
    colours: [
      { x: 134, y: 109, mean: [0, 0, 255] },
      { x: 59, y: 46, mean: [0, 0, 255] },
      { x: 21, y: 15, mean: [26.6, 19.9, 224.8] },
      { x: 2, y: 0, mean: [141.7, 147.0, 180.1] }
    ]
  },
  'small.svs': { format: 'aperio-svs', levels: [[16, 16]], mpp: 0.499, colours: [{ x: 0, y: 0, mean: [238.2, 233.9, 236.8] }] }
};

// JPEG chroma upsampling differs between decoders (nearest here, fancy in libjpeg): allow a few levels.
const COLOUR_TOLERANCE = 3;

maybe('shared slides', () => {
  const dir = path.join(data ?? '', 'slides');

  it('are all covered by the expectations', () => {
    expect(fs.readdirSync(dir).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, exp] of Object.entries(EXPECTED)) {
    it(`${name}: format, levels, mpp and colours`, async () => {
      const { fetch } = fileFetch(path.join(dir, name));
      const slide = await openSlide(`http://localhost/files/${name}`, { fetch, name });
      expect(slide.info.format).toBe(exp.format);
      expect(slide.info.levels.map(l => [l.width, l.height])).toEqual(exp.levels);
      expect([slide.info.width, slide.info.height]).toEqual(exp.levels[0]);
      if (exp.mpp === undefined) {
        expect(slide.info.mppX).toBeUndefined();
      } else {
        expect(slide.info.mppX).toBeCloseTo(exp.mpp, 3);
        expect(slide.info.mppY).toBeCloseTo(exp.mpp, 3);
      }
      for (const [i, c] of exp.colours.entries()) {
        const lv = slide.info.levels[i];
        const w = Math.min(32, lv.width - c.x);
        const h = Math.min(32, lv.height - c.y);
        const px = await slide.readRegion({ level: i, x: c.x, y: c.y, width: w, height: h });
        const mean = meanRgb(px);
        for (let k = 0; k < 3; k++) {
          expect(Math.abs(mean[k] - c.mean[k])).toBeLessThanOrEqual(COLOUR_TOLERANCE);
        }
      }
      slide.dispose();
    });
  }

  it('reads only the header to open, and only the needed tiles to read', async () => {
    const file = path.join(dir, 'TCGA-CR-7395-01A-01-TS1.svs');
    const size = fs.statSync(file).size;
    const { fetch, responder } = fileFetch(file);
    const slide = await openSlide('http://localhost/files/TCGA.svs', { fetch });
    const afterOpen = slide.bytesRead;
    expect(afterOpen).toBeLessThan(size / 20);
    expect(responder.ranges.every(r => r.startsWith('bytes='))).toBe(true);
    const tile = await slide.readTile(1, 3, 2);
    expect([tile.width, tile.height]).toEqual([256, 256]);
    const afterTile = slide.bytesRead;
    expect(afterTile - afterOpen).toBeLessThan(size / 20);
    // Same tile again comes from the decoded-tile cache: no new bytes.
    await slide.readTile(1, 3, 2);
    expect(slide.bytesRead).toBe(afterTile);
    // Edge tiles are clipped to the level.
    const edge = await slide.readTile(1, 8, 6);
    expect([edge.width, edge.height]).toEqual([2221 - 8 * 256, 1783 - 6 * 256]);
  });

  it('decodes the same pixels in decoder workers as on the main thread', async () => {
    const name = 'OS-1-detail.ome.tif';
    const rect = { level: 0, x: 400, y: 300, width: 300, height: 300 };
    const main = await openSlide(`http://localhost/files/${name}`, { fetch: fileFetch(path.join(dir, name)).fetch, decodeWorkers: 0 });
    const workers = await openSlide(`http://localhost/files/${name}`, { fetch: fileFetch(path.join(dir, name)).fetch, decodeWorkers: 1 });
    try {
      const a = await main.readRegion(rect);
      const b = await workers.readRegion(rect);
      expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
    } finally {
      await disposeDecoderPool();
    }
  });

  it('excludes thumbnail, label and macro pages from the levels', async () => {
    const name = 'CMU-1-Small-Region.svs';
    const { fetch } = fileFetch(path.join(dir, name));
    const slide = await openSlide(`http://localhost/files/${name}`, { fetch });
    expect(slide.info.levels).toHaveLength(1);
    expect(slide.info.properties['aperio.AppMag']).toBe('20');
    expect(slide.info.properties['slide.compression']).toBe('JPEG');
  });

  it('gives H&E-like colours: near-white, neutral background and pink/purple tissue (CMU)', async () => {
    const name = 'CMU-1-Small-Region.svs';
    const { fetch } = fileFetch(path.join(dir, name));
    const slide = await openSlide(`http://localhost/files/${name}`, { fetch });
    const all = await slide.readRegion({ level: 0, x: 0, y: 0, width: 2220, height: 2967 });
    const [r, g, b] = meanRgb(all);
    // Eosin/haematoxylin: red and blue above green; if YCbCr were shown as RGB, G and B would sit near 128.
    expect(r).toBeGreaterThan(g + 5);
    expect(b).toBeGreaterThan(g + 5);
    expect(r).toBeGreaterThan(180);
  });
});
