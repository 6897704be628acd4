import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backends';
import { McDropout } from '../mcdropout';
import { SegmentationModel, parseMetadata } from '../model';
import { analyzeRegion, finestLevelFor, modelScale } from '../region';
import { MemorySlide, metadataFor, tinyUnet } from './helpers';

const P = 16;

/** Left `glassWidth` columns grey glass, the rest stained tissue-like noise. */
function slidePixels(width: number, height: number, glassWidth: number): Uint8ClampedArray {
  const data = new Uint8ClampedArray(width * height * 4);
  let s = 12345;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) / 16777216;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      if (x < glassWidth) {
        data.set([236, 234, 238, 255], i);
      } else {
        data.set([150 + next() * 80, 60 + next() * 60, 140 + next() * 70, 255], i);
      }
    }
  }
  return data;
}

function engineFor(extra: Record<string, unknown> = {}, options: { dropout?: boolean; size?: number } = {}): McDropout {
  const size = options.size ?? P;
  const net = tinyUnet({ size, dropoutAt: options.dropout === false ? 'none' : 'decoder' });
  const model = new SegmentationModel(net, parseMetadata(metadataFor(size, 2, extra)));
  return new McDropout(model, { samples: 3, seed: 1 });
}

beforeAll(async () => {
  expect(await initBackend('cpu')).toBe('cpu');
});

describe('scale and level choice', () => {
  it('model mpp over slide mpp, 1 when unknown', () => {
    expect(modelScale(0.5, 0.25)).toBe(2);
    expect(modelScale(0.5, undefined)).toBe(1);
    expect(modelScale(undefined, 0.25)).toBe(1);
  });

  it('reads from the nearest finer level', () => {
    const levels = [1, 4, 16].map((d, index) => ({ index, downsampleX: d }));
    expect(finestLevelFor(levels, 1)).toBe(0);
    expect(finestLevelFor(levels, 3.9)).toBe(0);
    expect(finestLevelFor(levels, 4)).toBe(1);
    expect(finestLevelFor(levels, 10)).toBe(1);
    expect(finestLevelFor(levels, 100)).toBe(2);
    expect(finestLevelFor(levels, 0.5)).toBe(0);
  });
});

describe('analyzeRegion', () => {
  it('tiles, skips glass without reading it, streams tiles with progress, and leaks nothing', async () => {
    // 32-px model tiles; level 1 (2x) is coarse enough for the tissue mask.
    const T = 32;
    const W = 192;
    const H = 128;
    const slide = new MemorySlide(W, H, slidePixels(W, H, 80), 3, 0.5);
    const engine = engineFor({}, { size: T });
    await engine.run([{ width: T, height: T, channels: 4, data: new Uint8ClampedArray(T * T * 4) }]); // warm-up
    const before = tf.memory().numTensors;
    const progress: { done: number; total: number }[] = [];
    const streamed: number[] = [];
    const result = await analyzeRegion(slide, { x: 0, y: 0, width: W, height: H }, engine, {
      overlap: 8,
      onProgress: p => progress.push(p),
      onTile: t => {
        streamed.push(t.index);
        expect(t.maps.width).toBe(T);
        expect(t.maps.samples).toBe(3);
      }
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.scale).toBe(1);
    expect(result.level).toBe(0);
    expect([result.maps.width, result.maps.height]).toEqual([W, H]);
    // 192 = 32 + 24 * k ... -> 8 columns, 128 -> 5 rows.
    expect(result.tiles).toHaveLength(40);
    const analysed = result.tiles.filter(t => t.analyzed);
    expect(streamed).toEqual(analysed.map(t => t.index));
    // Tiles fully on glass (x + 32 <= 80) are skipped, tiles fully on tissue analysed.
    for (const t of result.tiles) {
      if (t.mapRect.x + T <= 80) {
        expect(t.analyzed).toBe(false);
        expect(t.tissueFraction).toBe(0);
      }
      if (t.mapRect.x >= 80) {
        expect(t.analyzed).toBe(true);
        expect(t.tissueFraction).toBe(1);
      }
    }
    expect(analysed.length).toBeLessThan(40);
    expect(progress[progress.length - 1]).toEqual({ done: 40, total: 40 });
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i].done).toBeGreaterThanOrEqual(progress[i - 1].done);
    }
    // Glass is not covered; tissue is, with probabilities summing to 1.
    expect(result.covered[10 * W + 5]).toBe(0);
    const px = 60 * W + 150;
    expect(result.covered[px]).toBe(1);
    expect(result.maps.meanProb[px * 2] + result.maps.meanProb[px * 2 + 1]).toBeCloseTo(1, 5);
    // The pixel tissue mask (from level 1) splits glass and tissue at x = 80,
    // also inside analysed tiles that straddle the edge.
    expect(result.tissue).toHaveLength(W * H);
    for (const x of [0, 40, 70, 90, 150, 190]) {
      expect(result.tissue[60 * W + x]).toBe(x >= 80 ? 1 : 0);
    }
    // The mask came from level 1; no level-0 read touched only glass.
    expect(slide.reads.filter(r => r.level === 1)).toHaveLength(1);
    const level0Reads = slide.reads.filter(r => r.level === 0);
    expect(level0Reads).toHaveLength(analysed.length);
    expect(level0Reads.every(r => r.x + r.width > 80)).toBe(true);
    engine.model.dispose();
  });

  it('without a coarser level, judges each tile on its own pixels', async () => {
    const W = 96;
    const H = 32;
    const slide = new MemorySlide(W, H, slidePixels(W, H, 48), 1);
    const engine = engineFor();
    const result = await analyzeRegion(slide, { x: 0, y: 0, width: W, height: H }, engine, { overlap: 0 });
    // 6 columns x 2 rows of 16 px: x = 0, 16, 32 on glass, 48, 64, 80 on tissue.
    expect(result.tiles).toHaveLength(12);
    expect(result.tiles.map(t => t.analyzed)).toEqual([false, false, false, true, true, true, false, false, false, true, true, true]);
    expect(result.tiles.map(t => t.tissueFraction)).toEqual(result.tiles.map(t => (t.mapRect.x >= 48 ? 1 : 0)));
    // Each analysed tile contributed its own pixel mask; skipped glass stays 0.
    for (const x of [5, 40, 50, 90]) {
      expect(result.tissue[10 * W + x]).toBe(x >= 48 ? 1 : 0);
    }
    engine.model.dispose();
  });

  it('each streamed tile equals the engine on that tile read directly', async () => {
    const W = 40;
    const H = 16;
    const slide = new MemorySlide(W, H, slidePixels(W, H, 0), 1);
    const engine = engineFor({}, { dropout: false });
    const tiles: { x: number; meanProb: Float32Array }[] = [];
    await analyzeRegion(slide, { x: 0, y: 0, width: W, height: H }, engine, {
      overlap: 4,
      tissueThreshold: 0,
      onTile: t => tiles.push({ x: t.rect.x, meanProb: t.maps.meanProb })
    });
    expect(tiles.map(t => t.x)).toEqual([0, 12, 24]);
    const direct = await slide.readRegion({ level: 0, x: 24, y: 0, width: P, height: P });
    const [maps] = await engine.run([{ width: P, height: P, channels: 4, data: direct.data }]);
    expect(Array.from(tiles[2].meanProb)).toEqual(Array.from(maps.meanProb));
    engine.model.dispose();
  });

  it('reads a coarser level when the model wants bigger pixels, upsamples when smaller', async () => {
    const W = 64;
    const H = 64;
    // Slide 0.25 um/px, model 0.5: 2 level-0 px per model px -> level 1 (downsample 2).
    const fine = new MemorySlide(W, H, slidePixels(W, H, 0), 3, 0.25);
    const engine = engineFor({ mpp: 0.5 });
    const r = await analyzeRegion(fine, { x: 0, y: 0, width: W, height: H }, engine, { overlap: 0, tissueThreshold: 0 });
    expect(r.scale).toBe(2);
    expect(r.level).toBe(1);
    expect([r.maps.width, r.maps.height]).toEqual([32, 32]);
    expect(r.tiles.map(t => t.rect)).toEqual([
      { x: 0, y: 0, width: 32, height: 32 },
      { x: 32, y: 0, width: 32, height: 32 },
      { x: 0, y: 32, width: 32, height: 32 },
      { x: 32, y: 32, width: 32, height: 32 }
    ]);
    expect(fine.reads.filter(rd => rd.level === 1).every(rd => rd.width === P && rd.height === P)).toBe(true);
    // Slide 1 um/px, model 0.5: half a level-0 px per model px -> level 0, upsampled 2x.
    const coarse = new MemorySlide(W, H, slidePixels(W, H, 0), 1, 1);
    const up = await analyzeRegion(coarse, { x: 8, y: 8, width: 16, height: 8 }, engine, { overlap: 0, tissueThreshold: 0 });
    expect(up.scale).toBe(0.5);
    expect([up.maps.width, up.maps.height]).toEqual([32, 16]);
    expect(coarse.reads.every(rd => rd.width === 8 && rd.height === 8)).toBe(true);
    engine.model.dispose();
  });

  it('keeps what was analysed when cancelled with keepPartialOnAbort, the batch read ahead dropped', async () => {
    const W = 96;
    const H = 96;
    const slide = new MemorySlide(W, H, slidePixels(W, H, 0), 1);
    const engine = engineFor();
    const controller = new AbortController();
    let seen = 0;
    const result = await analyzeRegion(slide, { x: 0, y: 0, width: W, height: H }, engine, {
      signal: controller.signal,
      overlap: 0,
      keepPartialOnAbort: true,
      sliceMs: 0,
      onTile: () => {
        if (++seen === 3) {
          controller.abort();
        }
      }
    });
    expect(result.partial).toBe(true);
    expect(result.tiles.filter(t => t.analyzed)).toHaveLength(3);
    // Covered where the 3 analysed tiles are, not elsewhere.
    expect(result.covered[0]).toBe(1);
    expect(result.covered[W * H - 1]).toBe(0);
    engine.model.dispose();
  });

  it('cancels between tile batches without leaking tensors', async () => {
    const W = 96;
    const H = 96;
    const slide = new MemorySlide(W, H, slidePixels(W, H, 0), 1);
    const engine = engineFor();
    await engine.run([{ width: P, height: P, channels: 4, data: new Uint8ClampedArray(P * P * 4) }]);
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    let tilesSeen = 0;
    const run = analyzeRegion(slide, { x: 0, y: 0, width: W, height: H }, engine, {
      signal: controller.signal,
      tilesPerBatch: 2,
      onTile: () => {
        tilesSeen++;
        controller.abort();
      }
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(tilesSeen).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    engine.model.dispose();
  });
});
