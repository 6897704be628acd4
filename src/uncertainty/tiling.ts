/**
 * Tiling a region into overlapping model patches and blending the per-patch
 * maps back without seams; tissue detection; resampling. Pure functions.
 */
import { UncertaintyMaps, emptyMaps } from './maps';

export interface TileRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Start offsets of tiles of `tile` px covering [0, length) with at least
 * `overlap` px shared between neighbours. The last tile is aligned to the end
 * (so it may overlap more); a length shorter than a tile gives one tile at 0
 * that hangs over the end (the reader pads it).
 */
export function tileStarts(length: number, tile: number, overlap: number): number[] {
  if (tile <= 0 || !Number.isFinite(tile)) {
    throw new Error(`tile size must be positive, got ${tile}`);
  }
  if (overlap < 0 || overlap >= tile) {
    throw new Error(`overlap must be in [0, ${tile}), got ${overlap}`);
  }
  if (length <= tile) {
    return [0];
  }
  const stride = tile - overlap;
  const count = Math.ceil((length - tile) / stride) + 1;
  const starts: number[] = [];
  for (let i = 0; i < count; i++) {
    starts.push(Math.min(i * stride, length - tile));
  }
  return starts;
}

/** Row-major grid of tiles covering width x height. */
export function planTiles(width: number, height: number, tile: number, overlap: number): TileRect[] {
  const xs = tileStarts(width, tile, overlap);
  const ys = tileStarts(height, tile, overlap);
  const tiles: TileRect[] = [];
  for (const y of ys) {
    for (const x of xs) {
      tiles.push({ x, y, width: tile, height: tile });
    }
  }
  return tiles;
}

/**
 * 1-D raised-cosine (Hann) window sampled at pixel centres: sin^2(pi (i+.5)/n).
 * Strictly positive, so every covered pixel gets weight even at region borders,
 * and it falls smoothly to ~0 at tile edges, so overlapping tiles cross-fade.
 */
export function raisedCosine(n: number): Float32Array {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = Math.sin((Math.PI * (i + 0.5)) / n);
    w[i] = s * s;
  }
  return w;
}

/** Separable 2-D blending weights of a tile. */
export function blendWeights(width: number, height: number): Float32Array {
  const wx = raisedCosine(width);
  const wy = raisedCosine(height);
  const w = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      w[y * width + x] = wy[y] * wx[x];
    }
  }
  return w;
}

/**
 * Weighted average of overlapping tile maps into one region map. Pixels that
 * no tile covered keep zeros and `covered = 0`.
 */
export class MapBlender {
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

  private weightsFor(width: number, height: number): Float32Array {
    const key = `${width}x${height}`;
    let w = this.tileWeights.get(key);
    if (!w) {
      w = blendWeights(width, height);
      this.tileWeights.set(key, w);
    }
    return w;
  }

  /** Add the maps of a tile whose top-left is (x, y) in region pixels; parts outside are dropped. */
  add(x: number, y: number, maps: UncertaintyMaps): void {
    if (maps.classes !== this.classes) {
      throw new Error(`tile has ${maps.classes} classes, region ${this.classes}`);
    }
    const C = this.classes;
    const w = this.weightsFor(maps.width, maps.height);
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

  /** Normalised maps and the coverage mask (1 = some tile covered the pixel). */
  result(): { maps: UncertaintyMaps; covered: Uint8Array } {
    const n = this.width * this.height;
    const C = this.classes;
    const maps = emptyMaps(this.width, this.height, C, this.samples);
    const covered = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
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
    return { maps, covered };
  }
}

/** Copy a window of a map (tiles of a known map, for tests and cropping suggestions). */
export function cropMaps(maps: UncertaintyMaps, rect: TileRect): UncertaintyMaps {
  const C = maps.classes;
  const out = emptyMaps(rect.width, rect.height, C, maps.samples);
  for (let y = 0; y < rect.height; y++) {
    const sy = rect.y + y;
    if (sy < 0 || sy >= maps.height) {
      continue;
    }
    for (let x = 0; x < rect.width; x++) {
      const sx = rect.x + x;
      if (sx < 0 || sx >= maps.width) {
        continue;
      }
      const si = sy * maps.width + sx;
      const di = y * rect.width + x;
      out.entropy[di] = maps.entropy[si];
      out.mutualInformation[di] = maps.mutualInformation[si];
      for (let c = 0; c < C; c++) {
        out.meanProb[di * C + c] = maps.meanProb[si * C + c];
        out.std[di * C + c] = maps.std[si * C + c];
      }
    }
  }
  return out;
}

/**
 * Resample RGBA pixels to dstW x dstH. Downscaling averages the source area
 * under each destination pixel (box filter, exact coverage weights), which
 * keeps tissue texture statistics; upscaling is bilinear.
 */
export function resampleRGBA(src: ArrayLike<number>, srcW: number, srcH: number, dstW: number, dstH: number): Uint8ClampedArray {
  const dst = new Uint8ClampedArray(dstW * dstH * 4);
  if (srcW === dstW && srcH === dstH) {
    for (let i = 0; i < dst.length; i++) {
      dst[i] = src[i];
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
    }
    return dst;
  }
  // Bilinear, pixel centres aligned.
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
  }
  return dst;
}

/** HSV saturation in [0,1] of each RGBA pixel; transparent pixels (outside the slide) get 0. */
export function saturation(rgba: ArrayLike<number>, pixels: number): Float32Array {
  const s = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) {
    const r = rgba[i * 4];
    const g = rgba[i * 4 + 1];
    const b = rgba[i * 4 + 2];
    const a = rgba[i * 4 + 3];
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    s[i] = a === 0 || max === 0 ? 0 : (max - min) / max;
  }
  return s;
}

/** Otsu's threshold of values in [0,1] (256 bins); returns the threshold value. */
export function otsuThreshold(values: ArrayLike<number>, bins = 256): number {
  const hist = new Float64Array(bins);
  for (let i = 0; i < values.length; i++) {
    const v = Math.min(Math.max(values[i], 0), 1);
    hist[Math.min(bins - 1, Math.floor(v * bins))]++;
  }
  const total = values.length;
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
  // Values in bin `best` and below are background.
  return (best + 1) / bins;
}

export interface TissueMask {
  width: number;
  height: number;
  /** 1 = tissue */
  mask: Uint8Array;
  threshold: number;
}

/**
 * Tissue = saturated pixels. H&E/IHC stain is coloured while glass and
 * padding are grey/white, so saturation separates them. The Otsu threshold
 * is clamped to [minThreshold, maxThreshold] because a region that is all
 * tissue (or all glass) has no real second mode and Otsu would then split
 * tissue from tissue.
 */
export function tissueMask(
  rgba: ArrayLike<number>,
  width: number,
  height: number,
  options: { minThreshold?: number; maxThreshold?: number } = {}
): TissueMask {
  const minT = options.minThreshold ?? 0.05;
  const maxT = options.maxThreshold ?? 0.2;
  const s = saturation(rgba, width * height);
  const threshold = Math.min(Math.max(otsuThreshold(s), minT), maxT);
  const mask = new Uint8Array(width * height);
  for (let i = 0; i < s.length; i++) {
    mask[i] = s[i] > threshold ? 1 : 0;
  }
  return { width, height, mask, threshold };
}

/** Fraction of mask pixels set inside a rectangle given in mask pixels (clipped). */
export function maskFraction(mask: TissueMask, rect: TileRect): number {
  const x0 = Math.max(0, Math.floor(rect.x));
  const y0 = Math.max(0, Math.floor(rect.y));
  const x1 = Math.min(mask.width, Math.ceil(rect.x + rect.width));
  const y1 = Math.min(mask.height, Math.ceil(rect.y + rect.height));
  if (x1 <= x0 || y1 <= y0) {
    return 0;
  }
  let on = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      on += mask.mask[y * mask.width + x];
    }
  }
  return on / ((x1 - x0) * (y1 - y0));
}
