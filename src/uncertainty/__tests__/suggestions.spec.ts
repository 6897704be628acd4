import { UncertaintyMaps, emptyMaps } from '../maps';
import { rankPatches, scorePatch, seededRandom } from '../scoring';
import { TileRect } from '../tiling';
import { candidateStarts, iou, nonMaximumSuppression, suggestPatches, ugaCodeScore, windowMax, windowSums } from '../suggestions';

/** Two-class maps; entropy from a function, MI = entropy / 2, p(fg) from another. */
function makeMaps(
  width: number,
  height: number,
  entropyAt: (x: number, y: number) => number,
  fgAt: (x: number, y: number) => number = () => 0.2
): UncertaintyMaps {
  const m = emptyMaps(width, height, 2, 20);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      m.entropy[i] = entropyAt(x, y);
      m.mutualInformation[i] = m.entropy[i] / 2;
      const p = fgAt(x, y);
      m.meanProb[i * 2] = 1 - p;
      m.meanProb[i * 2 + 1] = p;
    }
  }
  return m;
}

function randomMaps(width: number, height: number, seed: number): UncertaintyMaps {
  const r = seededRandom(seed);
  return makeMaps(
    width,
    height,
    () => r(),
    () => r()
  );
}

function overlapArea(a: TileRect, b: TileRect): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return Math.max(0, w) * Math.max(0, h);
}

describe('non-maximum suppression', () => {
  it('keeps the best boxes in score order and drops every overlapping one', () => {
    const r = seededRandom(3);
    const boxes = Array.from({ length: 300 }, () => ({
      rect: { x: Math.floor(r() * 200), y: Math.floor(r() * 200), width: 32, height: 32 },
      score: r()
    }));
    const kept = nonMaximumSuppression(boxes, 1000, 0);
    expect(kept.length).toBeGreaterThan(5);
    expect(kept[0].score).toBe(Math.max(...boxes.map(b => b.score)));
    for (let i = 1; i < kept.length; i++) {
      expect(kept[i].score).toBeLessThanOrEqual(kept[i - 1].score);
    }
    for (let i = 0; i < kept.length; i++) {
      for (let j = i + 1; j < kept.length; j++) {
        expect(overlapArea(kept[i].rect, kept[j].rect)).toBe(0);
      }
    }
    // Greedy: every dropped box overlaps a kept box that scores at least as high.
    for (const b of boxes) {
      if (!kept.includes(b)) {
        expect(kept.some(k => k.score >= b.score && overlapArea(k.rect, b.rect) > 0)).toBe(true);
      }
    }
  });

  it('honours a threshold, the count, ties in input order, and drops NaN', () => {
    const a = { rect: { x: 0, y: 0, width: 10, height: 10 }, score: 1 };
    const b = { rect: { x: 5, y: 0, width: 10, height: 10 }, score: 0.9 }; // IoU 50/150 = 1/3
    const c = { rect: { x: 40, y: 0, width: 10, height: 10 }, score: 0.9 };
    const d = { rect: { x: 80, y: 0, width: 10, height: 10 }, score: NaN };
    expect(iou(a.rect, b.rect)).toBeCloseTo(1 / 3, 10);
    expect(nonMaximumSuppression([a, b, c, d], 10, 0)).toEqual([a, c]);
    expect(nonMaximumSuppression([a, b, c, d], 10, 0.34)).toEqual([a, b, c]);
    expect(nonMaximumSuppression([a, c, b], 10, 0.34)).toEqual([a, c, b]);
    expect(nonMaximumSuppression([a, b, c], 1, 0.5)).toEqual([a]);
    expect(() => nonMaximumSuppression([a], 1, 2)).toThrow(/maxOverlap/);
  });
});

describe('window sums and maxima', () => {
  it('match brute force, including windows that hang over the map', () => {
    const W = 37;
    const H = 23;
    const r = seededRandom(9);
    const v = Float32Array.from({ length: W * H }, () => r());
    const mask = Uint8Array.from({ length: W * H }, () => (r() > 0.3 ? 1 : 0));
    const xs = [0, 5, 30, 35];
    const ys = [0, 7, 20];
    const sums = windowSums(v, mask, W, H, xs, ys, 8, 6);
    const max = windowMax(v, mask, W, H, xs, ys, 8, 6);
    ys.forEach((y0, j) =>
      xs.forEach((x0, i) => {
        let s = 0;
        let m = -Infinity;
        for (let y = y0; y < Math.min(H, y0 + 6); y++) {
          for (let x = x0; x < Math.min(W, x0 + 8); x++) {
            if (mask[y * W + x]) {
              s += v[y * W + x];
              m = Math.max(m, v[y * W + x]);
            }
          }
        }
        expect(sums[j * xs.length + i]).toBeCloseTo(s, 9);
        expect(max[j * xs.length + i]).toBe(m);
      })
    );
  });

  it('candidate starts step by the stride and end flush with the map', () => {
    expect(candidateStarts(100, 32, 8)).toEqual([0, 8, 16, 24, 32, 40, 48, 56, 64, 68]);
    expect(candidateStarts(32, 32, 8)).toEqual([0]);
    expect(candidateStarts(10, 32, 8)).toEqual([0]);
  });
});

describe('uga_code score', () => {
  it('is 100 * count(u > 0.8 max over the patch) + sum(u), on a hand-checked map', () => {
    // 3 x 2 map, u = [0.1 0.5 0.9 / 0.75 0.7 0.0]: max 0.9, threshold 0.72 (strict),
    // above: 0.9 and 0.75 -> count 2; sum 2.95 -> 202.95.
    const u = new Float32Array([0.1, 0.5, 0.9, 0.75, 0.7, 0.0]);
    const all = { x: 0, y: 0, width: 3, height: 2 };
    expect(ugaCodeScore(u, 3, all)).toBeCloseTo(200 + 2.95, 5);
    // Max is per patch: the left 2 x 2 has max 0.75, threshold 0.6 -> 0.75, 0.7 -> 200 + 2.05.
    expect(ugaCodeScore(u, 3, { x: 0, y: 0, width: 2, height: 2 })).toBeCloseTo(200 + 2.05, 5);
    // Pixels off tissue do not count for max, count or sum: without the 0.9 the max is 0.75.
    const tissue = new Uint8Array([1, 1, 0, 1, 1, 1]);
    expect(ugaCodeScore(u, 3, all, tissue)).toBeCloseTo(200 + 2.05, 5);
    // The count is relative to the patch's own max: a flat patch counts every pixel (a property of the formula).
    expect(ugaCodeScore(new Float32Array(4).fill(0.05), 2, { x: 0, y: 0, width: 2, height: 2 })).toBeCloseTo(400.2, 5);
    expect(ugaCodeScore(new Float32Array(4), 2, { x: 0, y: 0, width: 2, height: 2 })).toBe(0);
  });

  it('suggestPatches("uga_code") scores each candidate exactly as the reference form', () => {
    const m = randomMaps(60, 50, 4);
    const tissue = Uint8Array.from(m.entropy, (_, i) => (i % 7 === 0 ? 0 : 1));
    const got = suggestPatches(m, { strategy: 'uga_code', patchSize: 16, stride: 4, count: 50, covered: tissue, maxOverlap: 1 });
    expect(got.length).toBe(50);
    for (const p of got) {
      expect(p.score).toBeCloseTo(ugaCodeScore(m.entropy, m.width, p.mapRect, tissue), 6);
    }
    const mi = suggestPatches(m, { strategy: 'uga_code', uncertainty: 'mutual_information', patchSize: 16, count: 3 });
    expect(mi[0].score).toBeCloseTo(ugaCodeScore(m.mutualInformation, m.width, mi[0].mapRect), 6);
  });

  it('prefers many pixels near the patch maximum over one hot pixel', () => {
    // Left: one pixel at 1, rest 0.3. Right: a 6 x 6 block at 0.9, rest 0.1.
    const m = makeMaps(64, 32, (x, y) => (x < 32 ? (x === 10 && y === 10 ? 1 : 0.3) : x >= 40 && x < 46 && y >= 8 && y < 14 ? 0.9 : 0.1));
    const [best] = suggestPatches(m, { strategy: 'uga_code', patchSize: 32, stride: 32, count: 1 });
    expect(best.mapRect.x).toBe(32);
    // ...whereas the mean entropy prefers the left half.
    const [byMean] = suggestPatches(m, { strategy: 'entropy', patchSize: 32, stride: 32, count: 1 });
    expect(byMean.mapRect.x).toBe(0);
  });
});

describe('suggestPatches', () => {
  it('mean-based scores equal scorePatch on the same window', () => {
    const m = randomMaps(48, 40, 11);
    const tissue = Uint8Array.from(m.entropy, (_, i) => ((i * 13) % 5 === 0 ? 0 : 1));
    for (const strategy of ['entropy', 'mutual_information', 'uga_score'] as const) {
      const got = suggestPatches(m, { strategy, patchSize: 12, stride: 3, count: 20, covered: tissue, maxOverlap: 1 });
      expect(got.length).toBe(20);
      for (const p of got) {
        expect(p.score).toBeCloseTo(scorePatch(m, strategy, { rect: p.mapRect, covered: tissue }), 7);
        expect(p.meanEntropy).toBeCloseTo(scorePatch(m, 'entropy', { rect: p.mapRect, covered: tissue }), 7);
      }
    }
  });

  it('puts the patches on planted uncertainty, off-grid, without overlaps', () => {
    // Low, noisy background entropy (the UGA code's count is relative to each patch's max,
    // so a flat background would count every pixel) and three hot blobs off the patch grid.
    const noise = seededRandom(1);
    const blobs = [
      { x: 203, y: 77, r: 20, v: 0.95 },
      { x: 61, y: 181, r: 20, v: 0.85 },
      { x: 150, y: 150, r: 20, v: 0.75 }
    ];
    const m = makeMaps(256, 256, (x, y) => {
      for (const b of blobs) {
        if ((x - b.x) ** 2 + (y - b.y) ** 2 <= b.r * b.r) {
          return b.v;
        }
      }
      return 0.1 * noise();
    });
    for (const strategy of ['entropy', 'uga_code'] as const) {
      const got = suggestPatches(m, { strategy, patchSize: 64, count: 6, origin: { x: 1000, y: 2000 }, scale: 4 });
      expect(got.length).toBeGreaterThanOrEqual(3);
      blobs.forEach((b, k) => {
        const r = got[k].mapRect;
        // The blob, centre and most of its disc, is inside the k-th patch.
        expect(b.x - 16 >= r.x && b.x + 16 <= r.x + r.width).toBe(true);
        expect(b.y - 16 >= r.y && b.y + 16 <= r.y + r.height).toBe(true);
        expect(got[k].rank).toBe(k + 1);
        expect(got[k].x).toBe(1000 + r.x * 4);
        expect(got[k].y).toBe(2000 + r.y * 4);
        expect(got[k].width).toBe(256);
      });
      for (let i = 0; i < got.length; i++) {
        for (let j = i + 1; j < got.length; j++) {
          expect(overlapArea(got[i].mapRect, got[j].mapRect)).toBe(0);
        }
      }
      // Off the 64-px grid that rankPatches' default stride (patch / 2 = 32) would give for at least one blob.
      expect(got.slice(0, 3).some(p => p.mapRect.x % 32 !== 0 || p.mapRect.y % 32 !== 0)).toBe(true);
    }
  });

  it('respects the tissue mask: no patch with too little tissue, uncertainty off tissue ignored', () => {
    // Very uncertain glass on the left (not tissue), mildly uncertain tissue on the right.
    const m = makeMaps(128, 64, x => (x < 64 ? 1 : 0.3 + (x % 3) * 0.01));
    const tissue = Uint8Array.from({ length: 128 * 64 }, (_, i) => (i % 128 >= 64 ? 1 : 0));
    const got = suggestPatches(m, { strategy: 'entropy', patchSize: 32, count: 10, covered: tissue, minTissue: 0.75 });
    expect(got.length).toBeGreaterThan(0);
    for (const p of got) {
      expect(p.tissueFraction).toBeGreaterThanOrEqual(0.75);
      expect(p.mapRect.x).toBeGreaterThanOrEqual(56); // at most 8 of 32 columns on glass
      expect(p.score).toBeLessThan(0.4);
    }
    const none = suggestPatches(m, { strategy: 'uga_code', patchSize: 32, covered: new Uint8Array(128 * 64) });
    expect(none).toEqual([]);
  });

  it('reports partial patches when the map is smaller than the patch or bounded by the slide edge', () => {
    // 100 x 40 map, 64-px patch: rows hang over (40 < 64); x candidates 0, 16, 32, 36 all overlap.
    const small = makeMaps(100, 40, x => (x >= 50 ? 0.6 : 0.5));
    const got = suggestPatches(small, { strategy: 'entropy', patchSize: 64, count: 5, scale: 2 });
    expect(got.length).toBe(1);
    expect(got[0].mapRect).toEqual({ x: 36, y: 0, width: 64, height: 64 });
    expect(got[0].valid).toEqual({ x: 36, y: 0, width: 64, height: 40 });
    expect(got[0].partial).toBe(true);
    expect(got[0].width).toBe(128); // the level-0 box is the whole patch, padding included
    // The slide ends at x = 50 inside a 128 x 128 map: patches stay inside it, partial in x.
    const big = makeMaps(128, 128, () => 0.5);
    const edge = suggestPatches(big, { strategy: 'uga_code', patchSize: 64, count: 5, bounds: { x: 0, y: 0, width: 50, height: 128 } });
    expect(edge.length).toBe(2);
    for (const p of edge) {
      expect(p.valid.width).toBe(50);
      expect(p.valid.height).toBe(64);
      expect(p.partial).toBe(true);
      // Only the 50 x 64 valid pixels are scored: 100 * 3200 + 0.5 * 3200.
      expect(p.score).toBeCloseTo(100 * 3200 + 1600, 3);
    }
    // A whole patch inside a map at least a patch wide is not partial.
    const whole = suggestPatches(big, { strategy: 'entropy', patchSize: 64, count: 4 });
    expect(whole.map(p => p.partial)).toEqual([false, false, false, false]);
  });

  it('rejects bad input with a clear message', () => {
    const m = makeMaps(8, 8, () => 0.5);
    expect(() => suggestPatches(m, { strategy: 'nope' as never })).toThrow(/Unknown score strategy "nope"/);
    expect(() => suggestPatches(m, { strategy: 'entropy', patchSize: 0 })).toThrow(/patch size/);
    expect(() => suggestPatches(m, { strategy: 'entropy', covered: new Uint8Array(3) })).toThrow(/tissue mask has 3 pixels/);
    expect(() => suggestPatches(m, { strategy: 'uga_score', foregroundClass: 5 })).toThrow(/not one of/);
  });

  it('random is reproducible by seed; rankPatches still works alongside', () => {
    const m = randomMaps(64, 64, 2);
    const a = suggestPatches(m, { strategy: 'random', patchSize: 16, seed: 5 });
    const b = suggestPatches(m, { strategy: 'random', patchSize: 16, seed: 5 });
    expect(a.map(p => p.id)).toEqual(b.map(p => p.id));
    expect(rankPatches(m, { strategy: 'entropy', patchSize: 16 }).length).toBe(10);
  });
});
