/**
 * Patch scores and the ranked list of patches to correct. Pure.
 *
 * "uga_score" — Khalili et al. 2024 (UGA) show the annotator the patches of
 * highest pixel-level uncertainty; the public abstract does not pin down how
 * pixel uncertainty is pooled into one patch score, so we define it here:
 *
 *   uga_score = mean of the top q (default 10 %) normalised predictive
 *               entropies inside the patch.
 *
 * Why: a plain mean ranks large, faintly uncertain areas (a whole tile at
 * 0.2) above a patch that holds one badly segmented gland (10 % of pixels at
 * 0.9 and the rest confident) — yet the latter is what a correction fixes.
 * The top-q mean is a robust maximum: it tracks the most uncertain
 * structure, but a handful of noisy boundary pixels (< q of the patch) cannot
 * dominate it. Entropy (total uncertainty) rather than MI is pooled because
 * a domain-shifted target slide shows up in both and entropy is defined
 * without dropout too (hasDropout = false models).
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
  /** uga_score: fraction of most uncertain pixels averaged (0,1]; default 0.1. */
  topFraction?: number;
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

/** Mean of the largest ceil(q*n) values. */
export function topFractionMean(values: Float32Array, q: number): number {
  if (!(q > 0 && q <= 1)) {
    throw new Error(`topFraction must be in (0,1], got ${q}`);
  }
  if (values.length === 0) {
    return 0;
  }
  const k = Math.max(1, Math.ceil(q * values.length));
  const sorted = Float32Array.from(values).sort();
  let s = 0;
  for (let i = sorted.length - k; i < sorted.length; i++) {
    s += sorted[i];
  }
  return s / k;
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
      return topFractionMean(windowValues(maps.entropy, maps.width, w, options.covered), options.topFraction ?? 0.1);
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
  topFraction?: number;
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
        topFraction: options.topFraction,
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
