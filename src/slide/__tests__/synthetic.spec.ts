/** Small TIFFs assembled in the test: layouts, metadata and every kind of bad input. */
jest.mock('quick-lru', () => require('./quickLruShim'));
import { PNG } from 'pngjs';
import { openSlide } from '../open';
import { SlideError, SlideErrorKind } from '../types';
import { buildTiff, gradient, PageSpec } from './tiffBuilder';
import { memoryFetch, pngjsDecoder, responder } from './helpers';

function open(bytes: Uint8Array, name = 'x.tif') {
  return openSlide(`http://localhost/files/${name}`, { fetch: memoryFetch(responder(bytes)), name, decodeImage: pngjsDecoder });
}

async function openError(bytes: Uint8Array, name = 'x.tif'): Promise<SlideError> {
  try {
    await open(bytes, name);
  } catch (e) {
    expect(e).toBeInstanceOf(SlideError);
    return e as SlideError;
  }
  throw new Error('expected openSlide to fail');
}

function pixelAt(data: Uint8ClampedArray, width: number, x: number, y: number): number[] {
  return Array.from(data.slice((y * width + x) * 4, (y * width + x) * 4 + 4));
}

const tiled = (width: number, height: number, extra: Partial<PageSpec> = {}): PageSpec => ({
  width,
  height,
  tile: [16, 16],
  pixel: gradient,
  ...extra
});

describe('synthetic pyramids', () => {
  it('builds levels from a page chain, skipping a stripped thumbnail and a label of another shape', async () => {
    const bytes = buildTiff([
      tiled(100, 60),
      { width: 20, height: 12, pixel: gradient }, // stripped thumbnail
      tiled(50, 30, { pixel: (x, y) => gradient(x * 2, y * 2) }),
      tiled(30, 30, { description: 'label' }),
      tiled(25, 15, { pixel: (x, y) => gradient(x * 4, y * 4) })
    ]);
    const slide = await open(bytes);
    expect(slide.info.format).toBe('tiff');
    expect(slide.info.levels.map(l => [l.width, l.height, l.tileWidth, l.tileHeight])).toEqual([
      [100, 60, 16, 16],
      [50, 30, 16, 16],
      [25, 15, 16, 16]
    ]);
    expect(slide.info.levels[1].downsampleX).toBe(2);
    const region = await slide.readRegion({ level: 0, x: 10, y: 20, width: 30, height: 20 });
    expect(pixelAt(region.data, 30, 0, 0)).toEqual([10, 20, 200, 255]);
    expect(pixelAt(region.data, 30, 29, 19)).toEqual([39, 39, 200, 255]);
    const l2 = await slide.readTile(2, 1, 0);
    expect([l2.width, l2.height]).toEqual([9, 15]);
    expect(pixelAt(l2.data, 9, 0, 1)).toEqual([64, 4, 200, 255]);
    expect(slide.info.mppX).toBeUndefined();
  });

  it('reads an OME-TIFF pyramid stored in SubIFDs, with OME physical sizes', async () => {
    const ome = `<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0" Name="s"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" SizeX="64" SizeY="64" SizeC="3" SizeZ="1" SizeT="1" Type="uint8" PhysicalSizeX="500" PhysicalSizeXUnit="nm" PhysicalSizeY="0.5"/></Image></OME>`;
    const bytes = buildTiff([
      tiled(64, 64, { description: ome, subIfds: [tiled(32, 32, { pixel: () => [1, 2, 3] }), tiled(16, 16, { pixel: () => [4, 5, 6] })] })
    ]);
    const slide = await open(bytes, 'x.ome.tif');
    expect(slide.info.format).toBe('ome-tiff');
    expect(slide.info.levels.map(l => l.width)).toEqual([64, 32, 16]);
    expect(slide.info.mppX).toBeCloseTo(0.5);
    expect(slide.info.mppY).toBeCloseTo(0.5);
    const t = await slide.readTile(2, 0, 0);
    expect(pixelAt(t.data, 16, 5, 5)).toEqual([4, 5, 6, 255]);
  });

  it('takes the pixel size from XResolution/ResolutionUnit', async () => {
    const res = { x: [40000, 1] as [number, number], y: [40000, 1] as [number, number], unit: 3 };
    const slide = await open(buildTiff([tiled(32, 32, { resolution: res })]));
    expect(slide.info.mppX).toBeCloseTo(0.25);
    const inch = await open(buildTiff([tiled(32, 32, { resolution: { x: [101600, 1], y: [50800, 1], unit: 2 } })]));
    expect(inch.info.mppX).toBeCloseTo(0.25);
    expect(inch.info.mppY).toBeCloseTo(0.5);
  });

  it('serves a stripped image in virtual tiles of whole strips', async () => {
    const slide = await open(buildTiff([{ width: 40, height: 700, rowsPerStrip: 3, pixel: gradient }]));
    const lv = slide.info.levels[0];
    expect([lv.tileWidth, lv.tileHeight]).toEqual([40, 510]); // 170 strips of 3 rows
    const region = await slide.readRegion({ level: 0, x: 5, y: 505, width: 10, height: 10 });
    expect(pixelAt(region.data, 10, 0, 0)).toEqual([5, 505 & 0xff, 200, 255]);
    expect(pixelAt(region.data, 10, 9, 9)).toEqual([14, 514 & 0xff, 200, 255]);
    const last = await slide.readTile(0, 0, 1);
    expect([last.width, last.height]).toEqual([40, 190]);
    expect(pixelAt(last.data, 40, 0, 189)).toEqual([0, 699 & 0xff, 200, 255]);
  });

  it('converts 16-bit WhiteIsZero grey, uncompressed YCbCr and RGBA', async () => {
    const grey = await open(buildTiff([tiled(16, 16, { samples: 1, bits: 16, photometric: 0, pixel: () => [0x4000] })]));
    expect(pixelAt((await grey.readTile(0, 0, 0)).data, 16, 3, 3)).toEqual([191, 191, 191, 255]);
    const ycc = await open(buildTiff([tiled(16, 16, { photometric: 6, pixel: () => [76, 85, 255] })]));
    const red = pixelAt((await ycc.readTile(0, 0, 0)).data, 16, 0, 0);
    expect(red[0]).toBeGreaterThan(250);
    expect(red[1] + red[2]).toBeLessThan(6);
    const rgba = await open(buildTiff([tiled(16, 16, { samples: 4, extraSamples: [2], pixel: () => [9, 8, 7, 100] })]));
    expect(pixelAt((await rgba.readTile(0, 0, 0)).data, 16, 0, 0)).toEqual([9, 8, 7, 100]);
  });

  it('opens a plain PNG with an injected decoder', async () => {
    const png = new PNG({ width: 5, height: 4 });
    for (let i = 0; i < 20; i++) {
      png.data.set([i, 2 * i, 3, 255], i * 4);
    }
    const slide = await open(new Uint8Array(PNG.sync.write(png)), 'tile.png');
    expect(slide.info.format).toBe('png');
    expect(slide.info.levels).toHaveLength(1);
    const r = await slide.readRegion({ level: 0, x: 3, y: 2, width: 3, height: 1 });
    expect(pixelAt(r.data, 3, 0, 0)).toEqual([13, 26, 3, 255]);
    expect(pixelAt(r.data, 3, 2, 0)).toEqual([255, 255, 255, 0]);
  });
});

describe('bad input gives a SlideError of the right kind', () => {
  const cases: [string, () => Uint8Array, string, SlideErrorKind, RegExp][] = [
    ['random bytes named .svs', () => new TextEncoder().encode('hello, this is not a slide at all'), 'a.svs', 'not-a-tiff', /not a TIFF/],
    ['random bytes named .txt', () => new TextEncoder().encode('hello'), 'a.txt', 'unsupported-format', /not a format/],
    ['an empty file', () => new Uint8Array(0), 'a.tif', 'truncated', /empty/],
    ['a TIFF cut before its IFD', () => buildTiff([tiled(64, 64)]).slice(0, 3000), 'a.tif', 'truncated', /truncated/],
    [
      'a header pointing beyond the end',
      () => {
        const b = buildTiff([tiled(16, 16)]);
        new DataView(b.buffer).setUint32(4, 10_000_000, true);
        return b;
      },
      'a.tif',
      'truncated',
      /truncated/
    ],
    ['a 0-pixel image', () => buildTiff([tiled(16, 16, { declaredWidth: 0 })]), 'a.tif', 'invalid-size', /empty size/],
    [
      'an absurdly large image',
      () => buildTiff([tiled(16, 16, { declaredWidth: 4_000_000_000, declaredHeight: 3_000_000 })]),
      'a.tif',
      'invalid-size',
      /implausible/
    ],
    [
      'fewer tiles than the size needs',
      () => buildTiff([tiled(16, 16, { declaredWidth: 1600, declaredHeight: 1600 })]),
      'a.tif',
      'truncated',
      /lists 1 tiles where its size needs 10000/
    ],
    [
      'a tile table declaring 100 million entries',
      () => {
        const b = buildTiff([tiled(16, 16)]);
        const dv = new DataView(b.buffer);
        const ifd = dv.getUint32(4, true);
        for (let i = 0; i < dv.getUint16(ifd, true); i++) {
          if (dv.getUint16(ifd + 2 + i * 12, true) === 324) {
            dv.setUint32(ifd + 2 + i * 12 + 4, 100_000_000, true);
          }
        }
        return b;
      },
      'a.tif',
      'invalid-size',
      /100000000 tiles/
    ],
    [
      'a directory declaring 60000 entries',
      () => {
        const b = buildTiff([tiled(16, 16)]);
        const dv = new DataView(b.buffer);
        dv.setUint16(dv.getUint32(4, true), 60000, true);
        return b;
      },
      'a.tif',
      'truncated',
      /60000 entries/
    ],
    [
      'Leica JPEG 2000',
      () => buildTiff([tiled(16, 16, { compression: 34712 })]),
      'a.tif',
      'unsupported-compression',
      /34712 \(JPEG 2000 \(Leica\)\)/
    ],
    ['an unknown compression', () => buildTiff([tiled(16, 16, { compression: 60000 })]), 'a.tif', 'unsupported-compression', /60000/],
    ['CMYK', () => buildTiff([tiled(16, 16, { samples: 4, photometric: 5 })]), 'a.tif', 'unsupported-format', /photometric 5/],
    [
      'a PNG declaring 100000 x 100000 pixels',
      () => {
        const png = new PNG({ width: 1, height: 1 });
        const b = new Uint8Array(PNG.sync.write(png));
        new DataView(b.buffer).setUint32(16, 100000);
        new DataView(b.buffer).setUint32(20, 100000);
        return b;
      },
      'a.png',
      'invalid-size',
      /100000 x 100000/
    ]
  ];
  for (const [what, make, name, kind, message] of cases) {
    it(what, async () => {
      const e = await openError(make(), name);
      expect(e.kind).toBe(kind);
      expect(e.message).toMatch(message);
    });
  }

  it('a corrupt JPEG tile fails with a decode error, and the slide stays usable', async () => {
    const bytes = buildTiff([tiled(32, 16, { compression: 7, pixel: () => [1, 2, 3] })]);
    const slide = await open(bytes);
    await expect(slide.readTile(0, 0, 0)).rejects.toMatchObject({ kind: 'decode' });
    await expect(slide.readTile(0, 5, 0)).rejects.toMatchObject({ kind: 'invalid-size' });
  });
});
