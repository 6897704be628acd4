/**
 * Where to put the patches a person corrects: candidates on a grid finer
 * than the patch, scored, ranked, then greedy non-maximum suppression so
 * that the kept patches do not overlap. Pure functions over typed arrays.
 *
 * Cost. Mean-based scores (entropy, mutual_information, uga_score) and the
 * tissue fraction are box sums, read from summed-area tables sampled at the
 * candidate columns: one pass over the map plus O(candidates), whatever the
 * patch size, in memory O(height * candidate columns) instead of a full
 * (W+1)(H+1) float64 table per channel (72 MB each on a 3000 x 3000 map).
 *
 * 'uga_code' is the ranking of the UGA authors' code
 * (nadieh/Collaborative_segmentation, code/uncertainty_csv.py and
 * code/creat_uncertain_data.py):
 *
 *   uga_code = 100 * count(u > 0.8 * max(u)) + sum(u)
 *
 * where u is the per-pixel uncertainty map (here the normalised predictive
 * entropy in [0,1], or the mutual information with `uncertainty`), and max,
 * count and sum all run over the tissue pixels of the one candidate patch
 * (their code reads one patch of the uncertainty map and takes np.max,
 * np.sum(u > 0.8 max), np.sum over it; outside-slide pixels are 0 there and
 * are skipped here). count uses a strict '>', so a patch whose u is all 0
 * counts 0. With u in [0,1] the count term dominates: sum(u) <= pixels, so
 * it only breaks ties between patches with equal counts. Because the count
 * is relative to each patch's own max, a nearly flat patch (even a flat
 * low one) counts most of its pixels; their pipeline dropped white and
 * blank patches first, which the tissue mask does here. The per-patch max
 * is a separable sliding maximum; the count depends on each patch's own
 * threshold, so it is the one term that scans every candidate's pixels:
 * O(pixels * (patch / stride)^2), 16 x the pixels at the default stride.
 */
import { UncertaintyMaps } from './maps';
import { PatchSuggestion, ScoreStrategy, seededRandom } from './scoring';
import { TileRect } from './tiling';

export type SuggestStrategy = ScoreStrategy | 'uga_code';

export const SUGGEST_STRATEGIES: readonly SuggestStrategy[] = ['entropy', 'mutual_information', 'uga_score', 'uga_code', 'random'];

export interface SuggestOptions {
  strategy: SuggestStrategy;
  /** Patch edge in map (analysis) pixels; default 256. */
  patchSize?: number;
  /** Candidate step in map pixels; default round(patchSize / 4). */
  stride?: number;
  /** K, how many suggestions at most; default 10. */
  count?: number;
  /** Level-0 position of map pixel (0,0); default (0,0). */
  origin?: { x: number; y: number };
  /** Level-0 pixels per map pixel; default 1. */
  scale?: number;
  /**
   * Tissue mask of the map (1 = analysed tissue). Pixels at 0 are never
   * scored; default: every pixel counts.
   */
  covered?: Uint8Array;
  /**
   * A candidate needs at least this fraction of tissue, counted over the
   * part of the patch that lies inside the map and `bounds`; default 0.5.
   */
  minTissue?: number;
  /** Largest allowed IoU with an already kept patch; default 0 (disjoint). */
  maxOverlap?: number;
  /** uga_score: class whose probability weights the entropy; default 1. */
  foregroundClass?: number;
  /** uga_code: which map is u; default 'entropy'. */
  uncertainty?: 'entropy' | 'mutual_information';
  /**
   * Part of the map that is real slide (map pixels); default the whole
   * map. Patch pixels outside it are reported via `valid` for the editor to
   * pad with ignore.
   */
  bounds?: TileRect;
  /** Seed for 'random'; default 0. */
  seed?: number;
  /** Prefix of the ids; default 'patch'. */
  idPrefix?: string;
}

/** A ranked patch: the level-0 box of `PatchSuggestion` plus where it lies in the map. */
export interface SuggestedPatch extends PatchSuggestion {
  /** The patchSize x patchSize window in map pixels; may reach past the map when partial. */
  mapRect: TileRect;
  /** The part of `mapRect` inside the map and `bounds` (map pixels). */
  valid: TileRect;
  /** True when `valid` is smaller than `mapRect`: pad the rest with ignore. */
  partial: boolean;
  /** Fraction of `valid` that is tissue. */
  tissueFraction: number;
  strategy: SuggestStrategy;
}

/** Intersection over union of two rectangles (0 when either is empty). */
export function iou(a: TileRect, b: TileRect): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

export interface ScoredRect {
  rect: TileRect;
  score: number;
}

/**
 * Greedy non-maximum suppression: best score first (ties keep input order),
 * keep a box when its IoU with every kept box is <= maxOverlap, stop at
 * `count`. The result is in descending score order. NaN scores are dropped.
 */
export function nonMaximumSuppression<T extends ScoredRect>(boxes: readonly T[], count: number, maxOverlap = 0): T[] {
  if (!(maxOverlap >= 0 && maxOverlap <= 1)) {
    throw new Error(`maxOverlap must be in [0, 1], got ${maxOverlap}`);
  }
  const order = boxes
    .map((b, i) => ({ b, i }))
    .filter(e => !Number.isNaN(e.b.score))
    .sort((p, q) => q.b.score - p.b.score || p.i - q.i);
  const kept: T[] = [];
  for (const { b } of order) {
    if (kept.length >= count) {
      break;
    }
    // IoU 0 with integer rects means "no shared pixel"; compare with <= so 0 keeps touching boxes.
    if (kept.every(k => iou(k.rect, b.rect) <= maxOverlap)) {
      kept.push(b);
    }
  }
  return kept;
}

/** Candidate starts: every `stride` px, the last aligned to the end; one start at 0 when the map is shorter than the patch. */
export function candidateStarts(length: number, size: number, stride: number): number[] {
  if (length <= size) {
    return [0];
  }
  const starts: number[] = [];
  for (let s = 0; s + size < length; s += stride) {
    starts.push(s);
  }
  starts.push(length - size);
  return starts;
}

/**
 * Box sums of `values` (times `weight` when given) over the windows
 * [x, x+w) x [y, y+h) for every x in xs and y in ys, clipped to the map.
 * A summed-area table sampled at the candidate columns: row prefix sums
 * give each row's sum at every candidate x, then column prefix sums over
 * those give the boxes. Returns ys.length * xs.length sums, row-major.
 */
export function windowSums(
  values: ArrayLike<number> | null,
  weight: ArrayLike<number> | null,
  width: number,
  height: number,
  xs: readonly number[],
  ys: readonly number[],
  w: number,
  h: number
): Float64Array {
  const nx = xs.length;
  const x0s = xs.map(x => Math.max(0, Math.min(width, x)));
  const x1s = xs.map(x => Math.max(0, Math.min(width, x + w)));
  const rowPrefix = new Float64Array(width + 1);
  // colPrefix[(y) * nx + i] = sum over rows < y of the row-window sums of candidate i.
  const colPrefix = new Float64Array((height + 1) * nx);
  for (let y = 0; y < height; y++) {
    const off = y * width;
    let acc = 0;
    for (let x = 0; x < width; x++) {
      const v = values ? values[off + x] : 1;
      acc += weight ? v * weight[off + x] : v;
      rowPrefix[x + 1] = acc;
    }
    const prev = y * nx;
    const next = prev + nx;
    for (let i = 0; i < nx; i++) {
      colPrefix[next + i] = colPrefix[prev + i] + rowPrefix[x1s[i]] - rowPrefix[x0s[i]];
    }
  }
  const out = new Float64Array(ys.length * nx);
  for (let j = 0; j < ys.length; j++) {
    const y0 = Math.max(0, Math.min(height, ys[j]));
    const y1 = Math.max(0, Math.min(height, ys[j] + h));
    for (let i = 0; i < nx; i++) {
      out[j * nx + i] = colPrefix[y1 * nx + i] - colPrefix[y0 * nx + i];
    }
  }
  return out;
}

/**
 * Maximum of `values` over tissue pixels in every candidate window
 * (separable: per row at the candidate columns, then down the columns);
 * -Infinity where a window has no tissue.
 */
export function windowMax(
  values: ArrayLike<number>,
  covered: Uint8Array | undefined,
  width: number,
  height: number,
  xs: readonly number[],
  ys: readonly number[],
  w: number,
  h: number
): Float64Array {
  const nx = xs.length;
  const rowMax = new Float64Array(height * nx);
  for (let y = 0; y < height; y++) {
    const off = y * width;
    for (let i = 0; i < nx; i++) {
      const x0 = Math.max(0, xs[i]);
      const x1 = Math.min(width, xs[i] + w);
      let m = -Infinity;
      for (let x = x0; x < x1; x++) {
        if (covered && !covered[off + x]) {
          continue;
        }
        const v = values[off + x];
        if (v > m) {
          m = v;
        }
      }
      rowMax[y * nx + i] = m;
    }
  }
  const out = new Float64Array(ys.length * nx);
  for (let j = 0; j < ys.length; j++) {
    const y0 = Math.max(0, ys[j]);
    const y1 = Math.min(height, ys[j] + h);
    for (let i = 0; i < nx; i++) {
      let m = -Infinity;
      for (let y = y0; y < y1; y++) {
        const v = rowMax[y * nx + i];
        if (v > m) {
          m = v;
        }
      }
      out[j * nx + i] = m;
    }
  }
  return out;
}

/** The UGA code's patch score on one window of a map (reference form, see the file comment). */
export function ugaCodeScore(
  u: ArrayLike<number>,
  width: number,
  rect: TileRect,
  covered?: Uint8Array,
  height = Math.floor(u.length / width)
): number {
  const x0 = Math.max(0, rect.x);
  const y0 = Math.max(0, rect.y);
  const x1 = Math.min(width, rect.x + rect.width);
  const y1 = Math.min(height, rect.y + rect.height);
  let max = -Infinity;
  let sum = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = y * width + x;
      if (covered && !covered[i]) {
        continue;
      }
      sum += u[i];
      if (u[i] > max) {
        max = u[i];
      }
    }
  }
  if (max === -Infinity) {
    return 0;
  }
  return 100 * countAbove(u, width, x0, y0, x1, y1, 0.8 * max, covered) + sum;
}

function countAbove(
  u: ArrayLike<number>,
  width: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  threshold: number,
  covered?: Uint8Array
): number {
  let n = 0;
  for (let y = y0; y < y1; y++) {
    const off = y * width;
    if (covered) {
      for (let x = x0; x < x1; x++) {
        if (covered[off + x] && u[off + x] > threshold) {
          n++;
        }
      }
    } else {
      for (let x = x0; x < x1; x++) {
        if (u[off + x] > threshold) {
          n++;
        }
      }
    }
  }
  return n;
}

function intersect(a: TileRect, b: TileRect): TileRect {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

/**
 * Ranked, non-overlapping patches where the uncertainty is (see the file
 * comment). Throws with a message meant for the user on bad options.
 */
export function suggestPatches(maps: UncertaintyMaps, options: SuggestOptions): SuggestedPatch[] {
  const { width, height } = maps;
  const n = width * height;
  const size = Math.round(options.patchSize ?? 256);
  if (!(size >= 1)) {
    throw new Error(`The patch size must be at least 1 pixel, got ${options.patchSize}.`);
  }
  const stride = Math.max(1, Math.round(options.stride ?? size / 4));
  const count = Math.floor(options.count ?? 10);
  const minTissue = options.minTissue ?? 0.5;
  const maxOverlap = options.maxOverlap ?? 0;
  const strategy = options.strategy;
  if (!SUGGEST_STRATEGIES.includes(strategy)) {
    throw new Error(`Unknown score strategy "${String(strategy)}"; use one of ${SUGGEST_STRATEGIES.join(', ')}.`);
  }
  const covered = options.covered;
  if (covered && covered.length !== n) {
    throw new Error(`The tissue mask has ${covered.length} pixels, the map ${width} x ${height} = ${n}.`);
  }
  const fg = options.foregroundClass ?? 1;
  if (strategy === 'uga_score' && (fg < 0 || fg >= maps.classes)) {
    throw new Error(`foregroundClass ${fg} is not one of the model's ${maps.classes} classes.`);
  }
  if (count <= 0 || n === 0) {
    return [];
  }
  const mapArea = { x: 0, y: 0, width, height };
  const area = options.bounds ? intersect(mapArea, options.bounds) : mapArea;
  if (area.width === 0 || area.height === 0) {
    return [];
  }
  // Tissue = covered and inside bounds: restrict the mask once so every sum respects bounds.
  let tissue: Uint8Array | undefined = covered;
  if (options.bounds && (area.width < width || area.height < height)) {
    tissue = new Uint8Array(n);
    for (let y = area.y; y < area.y + area.height; y++) {
      for (let x = area.x; x < area.x + area.width; x++) {
        const i = y * width + x;
        tissue[i] = covered ? covered[i] : 1;
      }
    }
  }
  // Candidates stay inside `area` when it is at least a patch wide; otherwise one hangs over (partial).
  const xs = candidateStarts(area.width, size, stride).map(x => x + area.x);
  const ys = candidateStarts(area.height, size, stride).map(y => y + area.y);
  const nx = xs.length;
  const tissueCount = tissue ? windowSums(tissue, null, width, height, xs, ys, size, size) : null;

  let scores: Float64Array;
  const sums = (values: ArrayLike<number> | null, weight: ArrayLike<number> | null) =>
    windowSums(values, weight, width, height, xs, ys, size, size);
  const ratio = (num: Float64Array, den: Float64Array) => num.map((v, i) => (den[i] > 0 ? v / den[i] : 0));
  const validArea = (j: number, i: number) => intersect(area, { x: xs[i], y: ys[j], width: size, height: size });
  const pixelCount = () => {
    if (tissueCount) {
      return tissueCount;
    }
    const out = new Float64Array(ys.length * nx);
    for (let j = 0; j < ys.length; j++) {
      for (let i = 0; i < nx; i++) {
        const v = validArea(j, i);
        out[j * nx + i] = v.width * v.height;
      }
    }
    return out;
  };
  switch (strategy) {
    case 'entropy':
      scores = ratio(sums(maps.entropy, tissue ?? null), pixelCount());
      break;
    case 'mutual_information':
      scores = ratio(sums(maps.mutualInformation, tissue ?? null), pixelCount());
      break;
    case 'uga_score': {
      // Same definition as scoring.ts: sum H (1+p) / sum (1+p) over tissue.
      const C = maps.classes;
      const weight = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        weight[i] = tissue && !tissue[i] ? 0 : 1 + maps.meanProb[i * C + fg];
      }
      scores = ratio(sums(maps.entropy, weight), sums(weight, null));
      break;
    }
    case 'uga_code': {
      const raw = options.uncertainty === 'mutual_information' ? maps.mutualInformation : maps.entropy;
      const total = sums(raw, tissue ?? null);
      // Off-tissue pixels as -1 (u >= 0, thresholds >= 0): the inner loops then test one array (about 2x faster).
      const u = tissue ? raw.map((v, i) => (tissue![i] ? v : -1)) : raw;
      const max = windowMax(u, undefined, width, height, xs, ys, size, size);
      scores = new Float64Array(total.length);
      for (let j = 0; j < ys.length; j++) {
        for (let i = 0; i < nx; i++) {
          const k = j * nx + i;
          if (max[k] < 0 || (tissueCount && !passes(tissueCount[k], validArea(j, i), minTissue))) {
            continue; // rejected below anyway: skip the expensive count
          }
          const v = validArea(j, i);
          scores[k] = 100 * countAbove(u, width, v.x, v.y, v.x + v.width, v.y + v.height, 0.8 * max[k]) + total[k];
        }
      }
      break;
    }
    case 'random': {
      const random = seededRandom(options.seed ?? 0);
      scores = new Float64Array(ys.length * nx).map(() => random());
      break;
    }
  }

  interface Candidate extends ScoredRect {
    valid: TileRect;
    tissueFraction: number;
  }
  const candidates: Candidate[] = [];
  for (let j = 0; j < ys.length; j++) {
    for (let i = 0; i < nx; i++) {
      const k = j * nx + i;
      const valid = validArea(j, i);
      const validPixels = valid.width * valid.height;
      const on = tissueCount ? tissueCount[k] : validPixels;
      if (validPixels === 0 || on === 0 || !passes(on, valid, minTissue)) {
        continue;
      }
      candidates.push({
        rect: { x: xs[i], y: ys[j], width: size, height: size },
        score: scores[k],
        valid,
        tissueFraction: on / validPixels
      });
    }
  }
  const kept = nonMaximumSuppression(candidates, count, maxOverlap);
  return kept.map((c, r) => describe(maps, c, r + 1, strategy, tissue, fg, options));
}

function passes(on: number, valid: TileRect, minTissue: number): boolean {
  // Round so that e.g. 0.5 of an odd pixel count is not lost to float error.
  return on >= Math.ceil(minTissue * valid.width * valid.height - 1e-9);
}

/** Level-0 box and the per-patch statistics of a kept candidate (K of them: direct sums are cheap). */
function describe(
  maps: UncertaintyMaps,
  c: { rect: TileRect; score: number; valid: TileRect; tissueFraction: number },
  rank: number,
  strategy: SuggestStrategy,
  tissue: Uint8Array | undefined,
  fg: number,
  options: SuggestOptions
): SuggestedPatch {
  const origin = options.origin ?? { x: 0, y: 0 };
  const scale = options.scale ?? 1;
  const { valid } = c;
  let analysed = 0;
  let e = 0;
  let mi = 0;
  let fgCount = 0;
  const C = maps.classes;
  for (let y = valid.y; y < valid.y + valid.height; y++) {
    for (let x = valid.x; x < valid.x + valid.width; x++) {
      const i = y * maps.width + x;
      if (tissue && !tissue[i]) {
        continue;
      }
      analysed++;
      e += maps.entropy[i];
      mi += maps.mutualInformation[i];
      // Argmax as in predictedClasses(), inline to avoid labelling the whole map for K patches.
      let best = 0;
      for (let k = 1; k < C; k++) {
        if (maps.meanProb[i * C + k] > maps.meanProb[i * C + best]) {
          best = k;
        }
      }
      fgCount += best === fg ? 1 : 0;
    }
  }
  const x0 = Math.round(origin.x + c.rect.x * scale);
  const y0 = Math.round(origin.y + c.rect.y * scale);
  const prefix = options.idPrefix ?? 'patch';
  return {
    id: `${prefix}-${x0}-${y0}`,
    x: x0,
    y: y0,
    width: Math.round(c.rect.width * scale),
    height: Math.round(c.rect.height * scale),
    score: c.score,
    rank,
    meanEntropy: analysed ? e / analysed : 0,
    meanMutualInformation: analysed ? mi / analysed : 0,
    foregroundFraction: analysed ? fgCount / analysed : 0,
    mapRect: c.rect,
    valid,
    partial: valid.width < c.rect.width || valid.height < c.rect.height,
    tissueFraction: c.tissueFraction,
    strategy
  };
}
