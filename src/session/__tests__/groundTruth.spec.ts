import * as fs from 'fs';
import * as path from 'path';
import { encode } from 'fast-png';
import { decodeMask, diceOfResult, readGroundTruth, toClassLabels, truthForPatch, truthOnMap } from '../groundTruth';
import type { GroundTruth } from '../groundTruth';
import type { RegionResult } from '../../engine/region';

const SAMPLE_MASK = path.resolve(__dirname, '../../../jupyterlab_uga/sample/ebhi-target-mosaic.tif.mask.png');

function toBuffer(u8: Uint8Array): ArrayBuffer {
  return u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength) as ArrayBuffer;
}

/** A 40 x 20 slide whose truth is 0 on the left half and 1 on the right, at half resolution. */
function halfTruth(): GroundTruth {
  const width = 20;
  const height = 10;
  const labels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = width / 2; x < width; x++) {
      labels[y * width + x] = 1;
    }
  }
  return { path: 't.png', width, height, labels };
}

/** A result over level-0 (8, 0, 32, 20) at 2 level-0 px per map pixel, every pixel covered but the last column. */
function result(): RegionResult {
  const width = 16;
  const height = 10;
  const covered = new Uint8Array(width * height).fill(1);
  for (let y = 0; y < height; y++) {
    covered[y * width + width - 1] = 0;
  }
  return {
    region: { x: 8, y: 0, width: 32, height: 20 },
    level: 0,
    scale: 2,
    maps: { width, height, classes: 2 } as unknown as RegionResult['maps'],
    covered,
    tissue: covered,
    tiles: [],
    tissueSaturationThreshold: 0,
    partial: false
  };
}

describe('ground truth', () => {
  it('reads 0/255 masks as binary for two classes and class indices otherwise', () => {
    expect(Array.from(toClassLabels(Uint8Array.from([0, 255, 255, 0]), 2))).toEqual([0, 1, 1, 0]);
    expect(Array.from(toClassLabels(Uint8Array.from([0, 1, 2, 255]), 3))).toEqual([0, 1, 2, 255]);
    expect(() => toClassLabels(Uint8Array.from([0, 1, 7]), 2)).toThrow(/value 7.*2 classes/);
  });

  it('decodes grey and RGB PNGs to their first channel, and refuses other files', async () => {
    const grey = encode({ width: 3, height: 1, data: Uint8Array.from([0, 1, 255]), channels: 1, depth: 8 });
    expect(await decodeMask(toBuffer(grey), 'g.png')).toEqual({ width: 3, height: 1, grey: Uint8Array.from([0, 1, 255]) });
    const rgb = encode({ width: 2, height: 1, data: Uint8Array.from([1, 9, 9, 0, 9, 9]), channels: 3, depth: 8 });
    expect(Array.from((await decodeMask(toBuffer(rgb), 'c.png')).grey)).toEqual([1, 0]);
    await expect(readGroundTruth('x.png', toBuffer(new TextEncoder().encode('not an image')), 2)).rejects.toThrow(
      /x\.png.*neither a PNG nor a TIFF/
    );
  });

  it('reads the shipped mosaic mask: level-0 size, classes 0 and 1', async () => {
    const t = await readGroundTruth('m.png', toBuffer(fs.readFileSync(SAMPLE_MASK)), 2);
    expect([t.width, t.height]).toEqual([1792, 1120]);
    let ones = 0;
    let other = 0;
    for (const v of t.labels) {
      ones += v === 1 ? 1 : 0;
      other += v > 1 ? 1 : 0;
    }
    expect(other).toBe(0);
    expect(ones / t.labels.length).toBeGreaterThan(0.3);
    expect(ones / t.labels.length).toBeLessThan(0.9);
  });

  it('samples the truth on the map grid, ignoring what was not analysed', () => {
    const t = truthOnMap(halfTruth(), result(), 40, 20);
    // Map x = 5 sits at level-0 x = 8 + 11 = 19 (truth x 9: left); x = 6 at 21 (truth x 10: right).
    expect(t[5]).toBe(0);
    expect(t[6]).toBe(1);
    expect(t[15]).toBe(255);
  });

  it('gives Dice 1 for the truth itself and 0 per class for its inverse', () => {
    const r = result();
    const truth = halfTruth();
    const perfect = truthOnMap(truth, r, 40, 20).map(v => (v === 255 ? 0 : v));
    const d = diceOfResult(truth, r, perfect, 2, 40, 20);
    expect(d.perClass).toEqual([1, 1]);
    expect(d.mean).toBe(1);
    expect(d.pixels).toBe(15 * 10);
    const inverse = perfect.map(v => 1 - v);
    expect(diceOfResult(truth, r, inverse, 2, 40, 20).perClass).toEqual([0, 0]);
  });

  it('cuts the truth of a patch box at the patch resolution', () => {
    // Box (16, 0, 8, 8) on 4 x 4 patch pixels: level-0 x 17, 19 are left (truth x 8, 9), 21, 23 right.
    const p = truthForPatch(halfTruth(), [16, 0, 8, 8], 4, 40, 20);
    expect(Array.from(p.slice(0, 4))).toEqual([0, 0, 1, 1]);
    // A box that leaves the slide is ignore there.
    const edge = truthForPatch(halfTruth(), [36, 16, 8, 8], 4, 40, 20);
    expect(edge[3]).toBe(255);
    expect(edge[15]).toBe(255);
    expect(edge[0]).toBe(1);
  });
});
