/**
 * Dice per class over a region, as jupyterlab_uga.metrics.dice_per_class /
 * dice_summary: pooled over all pixels given, pixels whose truth is
 * IGNORE_LABEL excluded, a class absent from both prediction and truth gives
 * null (NaN in Python), mean = mean of the classes that are not null (with
 * two classes: the mean of foreground and background Dice, as in the model
 * card).
 */
import { IGNORE_LABEL } from '../tokens';

export interface DiceCounts {
  /** Per class: |P_c ∩ T_c|, |P_c|, |T_c| over valid pixels. */
  intersection: Float64Array;
  predicted: Float64Array;
  truth: Float64Array;
  /** Valid (not ignored) pixels counted. */
  pixels: number;
}

export function emptyDiceCounts(classes: number): DiceCounts {
  return { intersection: new Float64Array(classes), predicted: new Float64Array(classes), truth: new Float64Array(classes), pixels: 0 };
}

/**
 * Add one image (or tile) to `counts`: `pred` and `truth` hold class indices
 * per pixel; `region` (optional, same length) selects the pixels to count.
 * Predicted values outside 0..classes-1 count as no class.
 */
export function accumulateDice(
  counts: DiceCounts,
  pred: ArrayLike<number>,
  truth: ArrayLike<number>,
  region?: ArrayLike<number | boolean>
): DiceCounts {
  if (pred.length !== truth.length || (region && region.length !== truth.length)) {
    throw new Error(
      `Dice: prediction (${pred.length}), truth (${truth.length})${region ? ` and region (${region.length})` : ''} must have the same number of pixels`
    );
  }
  const classes = counts.intersection.length;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    if (t === IGNORE_LABEL || (region && !region[i])) {
      continue;
    }
    counts.pixels++;
    const p = pred[i];
    if (t >= 0 && t < classes) {
      counts.truth[t]++;
    }
    if (p >= 0 && p < classes) {
      counts.predicted[p]++;
      if (p === t) {
        counts.intersection[p]++;
      }
    }
  }
  return counts;
}

export interface DiceSummary {
  /** Dice per class index; null = class absent from prediction and truth. */
  perClass: (number | null)[];
  mean: number | null;
  pixels: number;
}

export function diceFromCounts(counts: DiceCounts): DiceSummary {
  const perClass = Array.from(counts.intersection, (inter, c) => {
    const denom = counts.predicted[c] + counts.truth[c];
    return denom > 0 ? (2 * inter) / denom : null;
  });
  const present = perClass.filter((d): d is number => d !== null);
  return { perClass, mean: present.length ? present.reduce((a, b) => a + b, 0) / present.length : null, pixels: counts.pixels };
}

/** One-shot: Dice of `pred` against `truth` (IGNORE_LABEL skipped) over `region`. */
export function dice(
  pred: ArrayLike<number>,
  truth: ArrayLike<number>,
  classes: number,
  region?: ArrayLike<number | boolean>
): DiceSummary {
  return diceFromCounts(accumulateDice(emptyDiceCounts(classes), pred, truth, region));
}

/** The form written to the manifest's models[] entry: class name -> Dice. */
export function diceRecord(
  summary: DiceSummary,
  classNames: readonly string[]
): { perClass: Record<string, number | null>; mean: number | null; pixels: number } {
  const perClass: Record<string, number | null> = {};
  summary.perClass.forEach((d, i) => {
    perClass[classNames[i] ?? `class${i}`] = d;
  });
  return { perClass, mean: summary.mean, pixels: summary.pixels };
}
