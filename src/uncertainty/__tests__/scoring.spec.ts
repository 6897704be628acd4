import { UncertaintyMaps } from '../maps';
import { rankPatches, scorePatch, seededRandom } from '../scoring';

/** Maps with a given entropy/MI field and class-1 probability = entropy (for the fg test). */
function makeMaps(width: number, height: number, entropyAt: (x: number, y: number) => number, mi = 0.1): UncertaintyMaps {
  const n = width * height;
  const entropy = new Float32Array(n);
  const meanProb = new Float32Array(n * 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const e = entropyAt(x, y);
      entropy[y * width + x] = e;
      // Foreground (class 1) predicted in the right half.
      const p1 = x >= width / 2 ? 0.9 : 0.1;
      meanProb[(y * width + x) * 2] = 1 - p1;
      meanProb[(y * width + x) * 2 + 1] = p1;
    }
  }
  return {
    width,
    height,
    classes: 2,
    meanProb,
    entropy,
    mutualInformation: new Float32Array(n).fill(mi),
    std: new Float32Array(n * 2),
    samples: 20
  };
}

describe('patch scores', () => {
  it('entropy and MI scores are window means', () => {
    const m = makeMaps(4, 4, x => x / 4, 0.25);
    expect(scorePatch(m, 'entropy')).toBeCloseTo((0 + 0.25 + 0.5 + 0.75) / 4, 6);
    expect(scorePatch(m, 'entropy', { rect: { x: 2, y: 0, width: 2, height: 4 } })).toBeCloseTo(0.625, 6);
    expect(scorePatch(m, 'mutual_information')).toBeCloseTo(0.25, 6);
  });

  it('uga_score is the mean entropy with foreground-leaning pixels weighted up to 2x', () => {
    // Two pixels: H = 1 with p(fg) = 1, H = 0.5 with p(fg) = 0 -> (1*2 + 0.5*1) / (2 + 1).
    const two: UncertaintyMaps = {
      width: 2,
      height: 1,
      classes: 2,
      meanProb: new Float32Array([0, 1, 1, 0]),
      entropy: new Float32Array([1, 0.5]),
      mutualInformation: new Float32Array(2),
      std: new Float32Array(4),
      samples: 20
    };
    expect(scorePatch(two, 'uga_score')).toBeCloseTo(2.5 / 3, 6);
    // Weighting by class 0 instead: (1*1 + 0.5*2) / 3.
    expect(scorePatch(two, 'uga_score', { foregroundClass: 0 })).toBeCloseTo(2 / 3, 6);
    expect(() => scorePatch(two, 'uga_score', { foregroundClass: 2 })).toThrow(/not one of/);
    // Where p(fg) is constant inside the window the score is the plain mean entropy...
    const m = makeMaps(16, 8, x => (x % 8 < 4 ? 0.6 : 0.2));
    const left = scorePatch(m, 'uga_score', { rect: { x: 0, y: 0, width: 8, height: 8 } });
    const right = scorePatch(m, 'uga_score', { rect: { x: 8, y: 0, width: 8, height: 8 } });
    expect(scorePatch(m, 'entropy', { rect: { x: 0, y: 0, width: 8, height: 8 } })).toBeCloseTo(0.4, 6);
    expect(left).toBeCloseTo(0.4, 6);
    expect(right).toBeCloseTo(0.4, 6);
    // ...and entropy on the predicted foreground (right half, p = 0.9) counts more than on background (p = 0.1).
    const hotRight = makeMaps(16, 8, x => (x >= 8 ? 0.5 : 0.45));
    const uniformFg = makeMaps(16, 8, () => 0.5);
    expect(scorePatch(hotRight, 'uga_score')).toBeGreaterThan(scorePatch(hotRight, 'entropy'));
    expect(scorePatch(uniformFg, 'uga_score')).toBeCloseTo(0.5, 6);
  });

  it('uncovered pixels are ignored', () => {
    const m = makeMaps(2, 1, x => (x === 0 ? 1 : 0));
    expect(scorePatch(m, 'entropy', { covered: new Uint8Array([0, 1]) })).toBe(0);
    expect(scorePatch(m, 'entropy', { covered: new Uint8Array([1, 0]) })).toBe(1);
  });

  it('random is reproducible by seed and in [0,1)', () => {
    const a = seededRandom(5);
    const b = seededRandom(5);
    const xs = Array.from({ length: 50 }, () => a());
    expect(xs).toEqual(Array.from({ length: 50 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(new Set(xs).size).toBe(50);
  });
});

describe('rankPatches', () => {
  const hot = (cx: number, cy: number) => (x: number, y: number) => (Math.abs(x - cx) < 8 && Math.abs(y - cy) < 8 ? 0.9 : 0.05);

  it('puts the hot spot first, in level-0 coordinates, without overlaps', () => {
    const m = makeMaps(128, 64, hot(100, 40));
    const s = rankPatches(m, { strategy: 'uga_score', patchSize: 32, stride: 16, count: 5, origin: { x: 1000, y: 2000 }, scale: 2 });
    expect(s.length).toBe(5);
    expect(s.map(p => p.rank)).toEqual([1, 2, 3, 4, 5]);
    const first = s[0];
    // The best 32-px window contains the 16-px hot square centred at (100, 40).
    const mx = (first.x - 1000) / 2;
    const my = (first.y - 2000) / 2;
    expect(mx).toBeLessThanOrEqual(92);
    expect(mx + 32).toBeGreaterThanOrEqual(108);
    expect(my).toBeLessThanOrEqual(32);
    expect(my + 32).toBeGreaterThanOrEqual(48);
    expect(first.width).toBe(64);
    expect(first.id).toBe(`patch-${first.x}-${first.y}`);
    for (let i = 1; i < s.length; i++) {
      expect(s[i].score).toBeLessThanOrEqual(s[i - 1].score);
    }
    for (let i = 0; i < s.length; i++) {
      for (let j = i + 1; j < s.length; j++) {
        const a = s[i];
        const b = s[j];
        const overlap =
          Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x)) *
          Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
        expect(overlap).toBe(0);
      }
    }
    // Right half is predicted foreground.
    expect(first.foregroundFraction).toBe(1);
    expect(first.meanEntropy).toBeGreaterThan(0.05);
    expect(first.meanMutualInformation).toBeCloseTo(0.1, 6);
  });

  it('skips windows that are mostly not analysed', () => {
    const m = makeMaps(64, 32, hot(48, 16));
    const covered = new Uint8Array(64 * 32);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        covered[y * 64 + x] = 1;
      }
    }
    const s = rankPatches(m, { strategy: 'entropy', patchSize: 32, stride: 32, covered, count: 10 });
    expect(s).toHaveLength(1);
    expect(s[0].x).toBe(0);
    expect(s[0].foregroundFraction).toBe(0);
  });

  it('random ranking depends only on the seed', () => {
    const m = makeMaps(64, 64, () => 0.5);
    const a = rankPatches(m, { strategy: 'random', patchSize: 16, count: 4, seed: 9 });
    const b = rankPatches(m, { strategy: 'random', patchSize: 16, count: 4, seed: 9 });
    const c = rankPatches(m, { strategy: 'random', patchSize: 16, count: 4, seed: 10 });
    expect(a).toEqual(b);
    expect(a.map(p => p.id)).not.toEqual(c.map(p => p.id));
  });

  it('a map smaller than the patch gives one suggestion of the map size', () => {
    const m = makeMaps(10, 6, () => 0.4);
    const s = rankPatches(m, { strategy: 'entropy', patchSize: 32 });
    expect(s).toHaveLength(1);
    expect([s[0].width, s[0].height]).toEqual([6, 6]);
  });
});
