import { UncertaintyMaps } from '../maps';
import {
  MapBlender,
  blendWeights,
  cropMaps,
  maskFraction,
  otsuThreshold,
  planTiles,
  raisedCosine,
  resampleRGBA,
  saturation,
  tileStarts,
  tissueMask
} from '../tiling';

function knownMaps(width: number, height: number, classes = 2): UncertaintyMaps {
  const n = width * height;
  const m: UncertaintyMaps = {
    width,
    height,
    classes,
    meanProb: new Float32Array(n * classes),
    entropy: new Float32Array(n),
    mutualInformation: new Float32Array(n),
    std: new Float32Array(n * classes),
    samples: 20
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      m.entropy[i] = Math.abs(Math.sin(x * 0.37) * Math.cos(y * 0.21));
      m.mutualInformation[i] = ((x * 7 + y * 13) % 17) / 17;
      for (let c = 0; c < classes; c++) {
        m.meanProb[i * classes + c] = ((x + 3 * y + 5 * c) % 11) / 11;
        m.std[i * classes + c] = ((2 * x + y + c) % 5) / 10;
      }
    }
  }
  return m;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
  }
  return d;
}

describe('tiling', () => {
  it('tile starts cover the length with the requested overlap, last one flush with the end', () => {
    expect(tileStarts(100, 100, 10)).toEqual([0]);
    expect(tileStarts(50, 100, 10)).toEqual([0]);
    expect(tileStarts(190, 100, 10)).toEqual([0, 90]);
    expect(tileStarts(200, 100, 10)).toEqual([0, 90, 100]);
    for (const [len, tile, ov] of [
      [1000, 224, 28],
      [225, 224, 0],
      [513, 64, 16]
    ]) {
      const s = tileStarts(len, tile, ov);
      expect(s[0]).toBe(0);
      expect(s[s.length - 1] + tile).toBe(len);
      for (let i = 1; i < s.length; i++) {
        expect(s[i - 1] + tile - s[i]).toBeGreaterThanOrEqual(ov);
      }
    }
    expect(() => tileStarts(10, 8, 8)).toThrow(/overlap/);
    expect(planTiles(200, 100, 100, 10)).toHaveLength(3);
  });

  it('raised-cosine weights are positive, symmetric and fall to the edges', () => {
    const w = raisedCosine(16);
    expect(Math.min(...w)).toBeGreaterThan(0);
    expect(w[0]).toBeCloseTo(w[15], 6);
    expect(w[7]).toBeGreaterThan(w[1]);
    expect(blendWeights(4, 2)[1 * 4 + 2]).toBeCloseTo(raisedCosine(2)[1] * raisedCosine(4)[2], 6);
  });

  it('blending overlapping tiles of a known map reconstructs it exactly', () => {
    for (const [w, h, tile, overlap] of [
      [70, 45, 16, 4],
      [64, 64, 16, 0],
      [33, 90, 32, 12],
      [10, 7, 16, 4] // region smaller than a tile
    ]) {
      const truth = knownMaps(w, h);
      const blender = new MapBlender(w, h, 2);
      for (const r of planTiles(w, h, tile, overlap)) {
        blender.add(r.x, r.y, cropMaps(truth, r));
      }
      const { maps, covered } = blender.result();
      expect(covered.every(v => v === 1)).toBe(true);
      expect(maxDiff(maps.entropy, truth.entropy)).toBeLessThan(1e-6);
      expect(maxDiff(maps.mutualInformation, truth.mutualInformation)).toBeLessThan(1e-6);
      expect(maxDiff(maps.meanProb, truth.meanProb)).toBeLessThan(1e-6);
      expect(maxDiff(maps.std, truth.std)).toBeLessThan(1e-6);
      expect(maps.samples).toBe(20);
    }
  });

  it('blends disagreeing tiles smoothly (no seam) and leaves uncovered pixels at 0', () => {
    const blender = new MapBlender(24, 1, 2);
    const tileOf = (v: number): UncertaintyMaps => ({ ...knownMaps(16, 1), entropy: new Float32Array(16).fill(v) });
    blender.add(0, 0, tileOf(0));
    blender.add(8, 0, tileOf(1));
    const { maps } = blender.result();
    // Monotone cross-fade from 0 to 1 across the overlap.
    for (let x = 1; x < 24; x++) {
      expect(maps.entropy[x]).toBeGreaterThanOrEqual(maps.entropy[x - 1] - 1e-7);
    }
    const steps = Array.from(maps.entropy).slice(8, 16);
    expect(Math.max(...steps.map((v, i) => (i ? v - steps[i - 1] : 0)))).toBeLessThan(0.4);
    const partial = new MapBlender(20, 1, 2);
    partial.add(0, 0, tileOf(0.5));
    const r = partial.result();
    expect(r.covered[15]).toBe(1);
    expect(r.covered[16]).toBe(0);
    expect(r.maps.entropy[16]).toBe(0);
  });
});

describe('resampling and tissue', () => {
  it('box-downsamples exactly and keeps identity', () => {
    const src = new Uint8ClampedArray([0, 0, 0, 255, 100, 100, 100, 255, 200, 200, 200, 255, 40, 40, 40, 255]);
    expect(Array.from(resampleRGBA(src, 2, 2, 1, 1))).toEqual([85, 85, 85, 255]);
    expect(Array.from(resampleRGBA(src, 2, 2, 2, 2))).toEqual(Array.from(src));
    // 3 -> 2 averages with fractional coverage: [0, 90, 180] -> [(0 + 45) / 1.5, (45 + 180) / 1.5]
    const row = new Uint8ClampedArray([0, 0, 0, 255, 90, 90, 90, 255, 180, 180, 180, 255]);
    expect(Array.from(resampleRGBA(row, 3, 1, 2, 1)).filter((_, i) => i % 4 === 0)).toEqual([30, 150]);
    const up = resampleRGBA(new Uint8ClampedArray([0, 0, 0, 255, 100, 100, 100, 255]), 2, 1, 4, 1);
    expect(Array.from(up).filter((_, i) => i % 4 === 0)).toEqual([0, 25, 75, 100]);
  });

  it('saturation is 0 for grey, white and transparent, 1 for pure colour', () => {
    const s = saturation(new Uint8ClampedArray([128, 128, 128, 255, 255, 0, 0, 255, 200, 100, 100, 0, 0, 0, 0, 255]), 4);
    expect(Array.from(s)).toEqual([0, 1, 0, 0]);
  });

  it('Otsu separates two modes', () => {
    const v = [...Array(100).fill(0.02), ...Array(60).fill(0.5)];
    const t = otsuThreshold(v);
    expect(t).toBeGreaterThan(0.02);
    expect(t).toBeLessThanOrEqual(0.5);
  });

  it('tissue mask finds stained pixels on glass, even when the region is all tissue', () => {
    const w = 20;
    const h = 10;
    const rgba = new Uint8ClampedArray(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        rgba.set(x < 10 ? [235, 233, 236, 255] : [180, 90, 160, 255], i);
      }
    }
    const mask = tissueMask(rgba, w, h);
    expect(maskFraction(mask, { x: 0, y: 0, width: 10, height: 10 })).toBe(0);
    expect(maskFraction(mask, { x: 10, y: 0, width: 10, height: 10 })).toBe(1);
    expect(maskFraction(mask, { x: 5, y: 0, width: 10, height: 10 })).toBe(0.5);
    expect(maskFraction(mask, { x: 30, y: 0, width: 5, height: 5 })).toBe(0);
    // All tissue with light and dark stain: the clamp keeps light tissue as tissue.
    const all = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; i++) {
      all.set(i % 2 ? [200, 150, 190, 255] : [120, 40, 110, 255], i * 4);
    }
    const allMask = tissueMask(all, w, h);
    expect(maskFraction(allMask, { x: 0, y: 0, width: w, height: h })).toBe(1);
  });
});
