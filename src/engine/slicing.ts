/**
 * The page-side pixel work of a region analysis cut into slices of a few
 * milliseconds that give the event loop back in between, so that no task of
 * the main thread runs long (the browser's 50 ms "long task"): resampling a
 * tile to the model's pixel size, the tissue mask, blending tile maps into
 * the region maps. Each function computes exactly what its one-shot twin in
 * uncertainty/tiling.ts computes (same arithmetic, same order).
 */
import { UncertaintyMaps, emptyMaps } from '../uncertainty/maps';
import { TissueMask, blendWeights } from '../uncertainty/tiling';

/** Default slice: well under 50 ms even on a loaded machine (3-4x slower). */
export const SLICE_MS = 8;

type Scheduler = { yield?: () => Promise<void> };

/** Give the event loop back: `scheduler.yield()`, a MessageChannel message, or a timer. */
export function yieldToEventLoop(): Promise<void> {
  const s = (globalThis as { scheduler?: Scheduler }).scheduler;
  if (typeof s?.yield === 'function') {
    return s.yield();
  }
  // A message is not clamped to 4 ms like nested timers; in Node (no document) use a timer.
  if (typeof MessageChannel !== 'undefined' && typeof document !== 'undefined') {
    return new Promise(resolve => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(null);
    });
  }
  return new Promise(resolve => setTimeout(resolve, 0));
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Yields when the current slice has run `budgetMs`; call it between small units of work. */
export class TimeSlicer {
  constructor(readonly budgetMs = SLICE_MS) {}

  /** True when the slice is used up (then `await yield()`). */
  get due(): boolean {
    return now() - this.start >= this.budgetMs;
  }

  async yield(): Promise<void> {
    await yieldToEventLoop();
    this.yields++;
    this.start = now();
  }

  /** Yield if due. */
  async check(): Promise<void> {
    if (this.due) {
      await this.yield();
    }
  }

  /** Slices given back so far (tests). */
  yields = 0;
  private start = now();
}

/**
 * `resampleRGBA` (box filter down, bilinear up) in row slices. `src` may be
 * any array of 8-bit RGBA.
 */
export async function resampleRGBASliced(
  src: ArrayLike<number>,
  srcW: number,
  srcH: number,
  dstW: number,
  dstH: number,
  slicer: TimeSlicer
): Promise<Uint8ClampedArray> {
  const dst = new Uint8ClampedArray(dstW * dstH * 4);
  if (srcW === dstW && srcH === dstH) {
    if (ArrayBuffer.isView(src)) {
      dst.set(src as unknown as ArrayLike<number>);
    } else {
      for (let i = 0; i < dst.length; i++) {
        dst[i] = src[i];
      }
    }
    return dst;
  }
  const sx = srcW / dstW;
  const sy = srcH / dstH;
  if (sx >= 1 && sy >= 1) {
    const acc = new Float64Array(4);
    for (let dy = 0; dy < dstH; dy++) {
      const y0 = dy * sy;
      const y1 = y0 + sy;
      for (let dx = 0; dx < dstW; dx++) {
        const x0 = dx * sx;
        const x1 = x0 + sx;
        acc.fill(0);
        let total = 0;
        for (let y = Math.floor(y0); y < Math.min(Math.ceil(y1), srcH); y++) {
          const wy = Math.min(y + 1, y1) - Math.max(y, y0);
          if (wy <= 0) {
            continue;
          }
          for (let x = Math.floor(x0); x < Math.min(Math.ceil(x1), srcW); x++) {
            const wx = Math.min(x + 1, x1) - Math.max(x, x0);
            if (wx <= 0) {
              continue;
            }
            const wt = wx * wy;
            const si = (y * srcW + x) * 4;
            acc[0] += wt * src[si];
            acc[1] += wt * src[si + 1];
            acc[2] += wt * src[si + 2];
            acc[3] += wt * src[si + 3];
            total += wt;
          }
        }
        const di = (dy * dstW + dx) * 4;
        const inv = total > 0 ? 1 / total : 0;
        dst[di] = Math.round(acc[0] * inv);
        dst[di + 1] = Math.round(acc[1] * inv);
        dst[di + 2] = Math.round(acc[2] * inv);
        dst[di + 3] = Math.round(acc[3] * inv);
      }
      await slicer.check();
    }
    return dst;
  }
  for (let dy = 0; dy < dstH; dy++) {
    const fy = Math.min(Math.max((dy + 0.5) * sy - 0.5, 0), srcH - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, srcH - 1);
    const ty = fy - y0;
    for (let dx = 0; dx < dstW; dx++) {
      const fx = Math.min(Math.max((dx + 0.5) * sx - 0.5, 0), srcW - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, srcW - 1);
      const tx = fx - x0;
      const di = (dy * dstW + dx) * 4;
      for (let k = 0; k < 4; k++) {
        const a = src[(y0 * srcW + x0) * 4 + k] * (1 - tx) + src[(y0 * srcW + x1) * 4 + k] * tx;
        const b = src[(y1 * srcW + x0) * 4 + k] * (1 - tx) + src[(y1 * srcW + x1) * 4 + k] * tx;
        dst[di + k] = Math.round(a * (1 - ty) + b * ty);
      }
    }
    await slicer.check();
  }
  return dst;
}

/** Rows handled between slicer checks for per-pixel loops over `width` pixels. */
function rowsPerCheck(width: number): number {
  return Math.max(1, Math.floor(65536 / Math.max(1, width)));
}

/** `tissueMask` (saturation, Otsu clamped to [min, max], threshold) in row slices. */
export async function tissueMaskSliced(
  rgba: ArrayLike<number>,
  width: number,
  height: number,
  slicer: TimeSlicer,
  options: { minThreshold?: number; maxThreshold?: number } = {}
): Promise<TissueMask> {
  const minT = options.minThreshold ?? 0.05;
  const maxT = options.maxThreshold ?? 0.2;
  const n = width * height;
  const s = new Float32Array(n);
  const bins = 256;
  const hist = new Float64Array(bins);
  const step = rowsPerCheck(width);
  for (let y0 = 0; y0 < height; y0 += step) {
    const end = Math.min(height, y0 + step) * width;
    for (let i = y0 * width; i < end; i++) {
      const r = rgba[i * 4];
      const g = rgba[i * 4 + 1];
      const b = rgba[i * 4 + 2];
      const a = rgba[i * 4 + 3];
      const max = Math.max(r, g, b);
      const min = Math.min(r, g, b);
      s[i] = a === 0 || max === 0 ? 0 : (max - min) / max;
      const v = Math.min(Math.max(s[i], 0), 1);
      hist[Math.min(bins - 1, Math.floor(v * bins))]++;
    }
    await slicer.check();
  }
  const threshold = Math.min(Math.max(otsuFromHistogram(hist, n), minT), maxT);
  const mask = new Uint8Array(n);
  for (let y0 = 0; y0 < height; y0 += step) {
    const end = Math.min(height, y0 + step) * width;
    for (let i = y0 * width; i < end; i++) {
      mask[i] = s[i] > threshold ? 1 : 0;
    }
    await slicer.check();
  }
  return { width, height, mask, threshold };
}

/** The threshold `otsuThreshold` returns, from its histogram. */
function otsuFromHistogram(hist: Float64Array, total: number): number {
  const bins = hist.length;
  let sumAll = 0;
  for (let i = 0; i < bins; i++) {
    sumAll += i * hist[i];
  }
  let weightBack = 0;
  let sumBack = 0;
  let best = 0;
  let bestVar = -1;
  for (let t = 0; t < bins; t++) {
    weightBack += hist[t];
    if (weightBack === 0) {
      continue;
    }
    const weightFore = total - weightBack;
    if (weightFore === 0) {
      break;
    }
    sumBack += t * hist[t];
    const meanBack = sumBack / weightBack;
    const meanFore = (sumAll - sumBack) / weightFore;
    const between = weightBack * weightFore * (meanBack - meanFore) ** 2;
    if (between > bestVar) {
      bestVar = between;
      best = t;
    }
  }
  return (best + 1) / bins;
}

/**
 * `MapBlender` whose `result` runs in slices. `add` of one tile is small
 * (a tile's pixels) and stays synchronous.
 */
export class SlicedMapBlender {
  private readonly weight: Float64Array;
  private readonly meanProb: Float64Array;
  private readonly std: Float64Array;
  private readonly entropy: Float64Array;
  private readonly mutualInformation: Float64Array;
  private readonly tileWeights = new Map<string, Float32Array>();
  private samples = 0;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly classes: number
  ) {
    const n = width * height;
    this.weight = new Float64Array(n);
    this.meanProb = new Float64Array(n * classes);
    this.std = new Float64Array(n * classes);
    this.entropy = new Float64Array(n);
    this.mutualInformation = new Float64Array(n);
  }

  add(x: number, y: number, maps: UncertaintyMaps): void {
    if (maps.classes !== this.classes) {
      throw new Error(`tile has ${maps.classes} classes, region ${this.classes}`);
    }
    const C = this.classes;
    const key = `${maps.width}x${maps.height}`;
    let w = this.tileWeights.get(key);
    if (!w) {
      w = blendWeights(maps.width, maps.height);
      this.tileWeights.set(key, w);
    }
    this.samples = Math.max(this.samples, maps.samples);
    for (let ty = 0; ty < maps.height; ty++) {
      const ry = y + ty;
      if (ry < 0 || ry >= this.height) {
        continue;
      }
      for (let tx = 0; tx < maps.width; tx++) {
        const rx = x + tx;
        if (rx < 0 || rx >= this.width) {
          continue;
        }
        const ti = ty * maps.width + tx;
        const ri = ry * this.width + rx;
        const wt = w[ti];
        this.weight[ri] += wt;
        this.entropy[ri] += wt * maps.entropy[ti];
        this.mutualInformation[ri] += wt * maps.mutualInformation[ti];
        for (let c = 0; c < C; c++) {
          this.meanProb[ri * C + c] += wt * maps.meanProb[ti * C + c];
          this.std[ri * C + c] += wt * maps.std[ti * C + c];
        }
      }
    }
  }

  async result(slicer: TimeSlicer): Promise<{ maps: UncertaintyMaps; covered: Uint8Array }> {
    const C = this.classes;
    const maps = emptyMaps(this.width, this.height, C, this.samples);
    const covered = new Uint8Array(this.width * this.height);
    const step = rowsPerCheck(this.width * Math.max(1, C));
    for (let y0 = 0; y0 < this.height; y0 += step) {
      const end = Math.min(this.height, y0 + step) * this.width;
      for (let i = y0 * this.width; i < end; i++) {
        const wt = this.weight[i];
        if (wt <= 0) {
          continue;
        }
        covered[i] = 1;
        const inv = 1 / wt;
        maps.entropy[i] = this.entropy[i] * inv;
        maps.mutualInformation[i] = this.mutualInformation[i] * inv;
        for (let c = 0; c < C; c++) {
          maps.meanProb[i * C + c] = this.meanProb[i * C + c] * inv;
          maps.std[i * C + c] = this.std[i * C + c] * inv;
        }
      }
      await slicer.check();
    }
    return { maps, covered };
  }
}

/** OR a mask (map resolution) into the region grid at (x0, y0). */
export async function pasteMaskSliced(dst: Uint8Array, w: number, h: number, m: TissueMask, x0: number, y0: number, slicer: TimeSlicer) {
  const step = rowsPerCheck(m.width);
  for (let y = 0; y < m.height && y0 + y < h; y++) {
    for (let x = 0; x < m.width && x0 + x < w; x++) {
      if (m.mask[y * m.width + x]) {
        dst[(y0 + y) * w + x0 + x] = 1;
      }
    }
    if ((y + 1) % step === 0) {
      await slicer.check();
    }
  }
}

/** Nearest-neighbour lookup of a coarse mask for each map pixel; `k` = mask px per map px. */
export async function sampleMaskSliced(m: TissueMask, w: number, h: number, k: number, slicer: TimeSlicer): Promise<Uint8Array> {
  const out = new Uint8Array(w * h);
  const step = rowsPerCheck(w);
  for (let y = 0; y < h; y++) {
    const my = Math.min(m.height - 1, Math.floor((y + 0.5) * k));
    for (let x = 0; x < w; x++) {
      const mx = Math.min(m.width - 1, Math.floor((x + 0.5) * k));
      out[y * w + x] = m.mask[my * m.width + mx];
    }
    if ((y + 1) % step === 0) {
      await slicer.check();
    }
  }
  return out;
}
