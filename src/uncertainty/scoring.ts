/**
 * Patch scores and the ranked list of patches to correct. Pure.
 *
 * "uga_score" — Khalili et al. 2024 (UGA) show the annotator the patches of
 * highest pixel-level uncertainty (predictive entropy of their ensemble); the
 * public abstract does not pin down how pixel uncertainty is pooled into one
 * patch score, so we define it here:
 *
 *   uga_score = sum_i H_i (1 + p_i) / sum_i (1 + p_i)
 *
 * with H_i the normalised predictive entropy of pixel i and p_i its mean
 * probability of the foreground class: a mean entropy in which pixels the
 * model leans to call foreground (gland, tumour) count up to twice. Why: the
 * corrections are judged, and the model is fine-tuned, on the foreground
 * class (its Dice), so between two equally uncertain patches the one where
 * the structure of interest may be is worth the annotator's time first;
 * background-only uncertainty (stroma, glass edges) still ranks, at half
 * weight. A plain mean rather than a top-q mean because every patch that
 * contains a class boundary has a thin line of pixels at entropy ~1: a top-q
 * pool saturates on those lines and stops telling patches apart (seen on
 * real slides: top-10 % scores of 0.997-0.999 everywhere).
 */
import { UncertaintyMaps, predictedClasses } from './maps';
import { TileRect } from './tiling';

export type ScoreStrategy = 'entropy' | 'mutual_information' | 'uga_score' | 'random';

export interface PatchSuggestion {
  id: string;
  /** level-0 pixels */
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
  /** 1 = correct this first */
  rank: number;
  meanEntropy: number;
  meanMutualInformation: number;
  /** Fraction of pixels predicted as the foreground class. */
  foregroundFraction: number;
}

export interface ScoreOptions {
  /** Window of the maps to score (map pixels); default the whole map. */
  rect?: TileRect;
  /** uga_score: class whose probability weights the entropy; default 1. */
  foregroundClass?: number;
  /** 'random': a source of uniform numbers in [0,1); default Math.random. */
  random?: () => number;
  /** Optional coverage mask (1 = analysed); uncovered pixels are ignored. */
  covered?: Uint8Array;
}

function windowOf(maps: UncertaintyMaps, rect?: TileRect): TileRect {
  const r = rect ?? { x: 0, y: 0, width: maps.width, height: maps.height };
  const x0 = Math.max(0, r.x);
  const y0 = Math.max(0, r.y);
  const x1 = Math.min(maps.width, r.x + r.width);
  const y1 = Math.min(maps.height, r.y + r.height);
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

/** Values of a scalar map inside a window, skipping uncovered pixels. */
function windowValues(map: Float32Array, mapWidth: number, w: TileRect, covered?: Uint8Array): Float32Array {
  const out = new Float32Array(w.width * w.height);
  let n = 0;
  for (let y = w.y; y < w.y + w.height; y++) {
    for (let x = w.x; x < w.x + w.width; x++) {
      const i = y * mapWidth + x;
      if (covered && !covered[i]) {
        continue;
      }
      out[n++] = map[i];
    }
  }
  return out.subarray(0, n);
}

function mean(values: Float32Array): number {
  if (values.length === 0) {
    return 0;
  }
  let s = 0;
  for (let i = 0; i < values.length; i++) {
    s += values[i];
  }
  return s / values.length;
}

/** Foreground-weighted mean entropy of a window (see the file comment). */
export function foregroundWeightedEntropy(maps: UncertaintyMaps, w: TileRect, foregroundClass: number, covered?: Uint8Array): number {
  if (foregroundClass < 0 || foregroundClass >= maps.classes) {
    throw new Error(`foregroundClass ${foregroundClass} is not one of ${maps.classes} classes`);
  }
  let num = 0;
  let den = 0;
  for (let y = w.y; y < w.y + w.height; y++) {
    for (let x = w.x; x < w.x + w.width; x++) {
      const i = y * maps.width + x;
      if (covered && !covered[i]) {
        continue;
      }
      const weight = 1 + maps.meanProb[i * maps.classes + foregroundClass];
      num += weight * maps.entropy[i];
      den += weight;
    }
  }
  return den > 0 ? num / den : 0;
}

/** One number per patch: higher = more worth correcting. */
export function scorePatch(maps: UncertaintyMaps, strategy: ScoreStrategy, options: ScoreOptions = {}): number {
  const w = windowOf(maps, options.rect);
  switch (strategy) {
    case 'entropy':
      return mean(windowValues(maps.entropy, maps.width, w, options.covered));
    case 'mutual_information':
      return mean(windowValues(maps.mutualInformation, maps.width, w, options.covered));
    case 'uga_score':
      return foregroundWeightedEntropy(maps, w, options.foregroundClass ?? 1, options.covered);
    case 'random':
      return (options.random ?? Math.random)();
    default:
      throw new Error(`unknown score strategy: ${String(strategy)}`);
  }
}

/** Deterministic uniform numbers (mulberry32) so 'random' rankings are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RankOptions {
  strategy: ScoreStrategy;
  /** Patch side in map pixels. */
  patchSize: number;
  /** Candidate step in map pixels; default patchSize / 2. */
  stride?: number;
  /** How many suggestions at most; default 10. */
  count?: number;
  /** Level-0 position of map pixel (0,0); default (0,0). */
  origin?: { x: number; y: number };
  /** Level-0 pixels per map pixel; default 1. */
  scale?: number;
  foregroundClass?: number;
  /** Coverage mask of the maps (1 = analysed). */
  covered?: Uint8Array;
  /** A candidate needs at least this fraction analysed; default 0.5. */
  minCoverage?: number;
  /** Largest allowed intersection-over-union with an already chosen patch; default 0 (disjoint). */
  maxOverlap?: number;
  /** Seed for 'random'; default 0. */
  seed?: number;
  idPrefix?: string;
}

function iou(a: TileRect, b: TileRect): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Slide a patch window over the maps, score every position, then greedily
 * keep the best ones that do not overlap a kept one more than `maxOverlap`.
 */
export function rankPatches(maps: UncertaintyMaps, options: RankOptions): PatchSuggestion[] {
  const size = Math.min(options.patchSize, maps.width, maps.height);
  if (!(size > 0)) {
    return [];
  }
  const stride = Math.max(1, Math.round(options.stride ?? size / 2));
  const count = options.count ?? 10;
  const origin = options.origin ?? { x: 0, y: 0 };
  const scale = options.scale ?? 1;
  const minCoverage = options.minCoverage ?? 0.5;
  const maxOverlap = options.maxOverlap ?? 0;
  const fg = options.foregroundClass ?? 1;
  const random = seededRandom(options.seed ?? 0);
  const labels = predictedClasses(maps);

  const xs = tileStarts(maps.width, size, stride);
  const ys = tileStarts(maps.height, size, stride);
  interface Candidate {
    rect: TileRect;
    score: number;
  }
  const candidates: Candidate[] = [];
  for (const y of ys) {
    for (const x of xs) {
      const rect = { x, y, width: size, height: size };
      if (options.covered) {
        let on = 0;
        for (let yy = y; yy < y + size; yy++) {
          for (let xx = x; xx < x + size; xx++) {
            on += options.covered[yy * maps.width + xx] ? 1 : 0;
          }
        }
        if (on === 0 || on / (size * size) < minCoverage) {
          continue;
        }
      }
      const score = scorePatch(maps, options.strategy, {
        rect,
        covered: options.covered,
        foregroundClass: fg,
        random
      });
      candidates.push({ rect, score });
    }
  }
  candidates.sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  for (const c of candidates) {
    if (kept.length >= count) {
      break;
    }
    if (kept.every(k => iou(k.rect, c.rect) <= maxOverlap)) {
      kept.push(c);
    }
  }
  const prefix = options.idPrefix ?? 'patch';
  return kept.map((k, i) => {
    const { rect } = k;
    let fgCount = 0;
    let analysed = 0;
    for (let y = rect.y; y < rect.y + rect.height; y++) {
      for (let x = rect.x; x < rect.x + rect.width; x++) {
        const p = y * maps.width + x;
        if (options.covered && !options.covered[p]) {
          continue;
        }
        analysed++;
        fgCount += labels[p] === fg ? 1 : 0;
      }
    }
    const x0 = Math.round(origin.x + rect.x * scale);
    const y0 = Math.round(origin.y + rect.y * scale);
    return {
      id: `${prefix}-${x0}-${y0}`,
      x: x0,
      y: y0,
      width: Math.round(rect.width * scale),
      height: Math.round(rect.height * scale),
      score: k.score,
      rank: i + 1,
      meanEntropy: scorePatch(maps, 'entropy', { rect, covered: options.covered }),
      meanMutualInformation: scorePatch(maps, 'mutual_information', { rect, covered: options.covered }),
      foregroundFraction: analysed > 0 ? fgCount / analysed : 0
    };
  });
}

/** Candidate starts with a given stride, last one aligned to the end. */
function tileStarts(length: number, size: number, stride: number): number[] {
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
