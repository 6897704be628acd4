/**
 * Per-pixel uncertainty of MC-dropout samples. Pure functions over typed
 * arrays (no tfjs), so the maths is tested without a backend.
 *
 * Layouts: probabilities are pixel-major, H*W*C (class fastest), like a
 * tfjs NHWC tensor of one patch; scalar maps are H*W, row-major.
 */

export interface UncertaintyMaps {
  width: number;
  height: number;
  classes: number;
  /** H*W*C, mean softmax over the T samples. */
  meanProb: Float32Array;
  /** H*W, predictive entropy H[mean p] / log(C), in [0,1]. */
  entropy: Float32Array;
  /** H*W, BALD mutual information H[mean p] - mean_t H[p_t], / log(C), in [0,1]. */
  mutualInformation: Float32Array;
  /** H*W*C, per-class standard deviation over samples (population, divides by T). */
  std: Float32Array;
  /** T, the number of MC samples behind the maps (1 = deterministic). */
  samples: number;
}

/**
 * Sufficient statistics of T samples per pixel: what a backend reduces on
 * the device so that only these come back to the CPU.
 */
export interface SampleMoments {
  width: number;
  height: number;
  classes: number;
  /** H*W*C, mean_t p_t */
  meanProb: Float32Array;
  /** H*W*C, mean_t p_t^2 */
  meanSquareProb: Float32Array;
  /** H*W, mean_t H[p_t] in nats (not normalised). */
  meanSampleEntropy: Float32Array;
  samples: number;
}

/** Shannon entropy in nats of one categorical distribution; 0 log 0 = 0. */
export function entropyNats(p: ArrayLike<number>, offset = 0, classes = p.length): number {
  let h = 0;
  for (let c = 0; c < classes; c++) {
    const v = p[offset + c];
    if (v > 0) {
      h -= v * Math.log(v);
    }
  }
  return h;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * Maps from moments. Entropy and MI are divided by log(C) so that 1 means
 * "uniform over classes" whatever C is; for C = 1 both are 0.
 */
/** All-zero maps of a given size (to be filled by blending or cropping). */
export function emptyMaps(width: number, height: number, classes: number, samples: number): UncertaintyMaps {
  const n = width * height;
  return {
    width,
    height,
    classes,
    meanProb: new Float32Array(n * classes),
    entropy: new Float32Array(n),
    mutualInformation: new Float32Array(n),
    std: new Float32Array(n * classes),
    samples
  };
}

export function mapsFromMoments(m: SampleMoments): UncertaintyMaps {
  const { width, height, classes } = m;
  const pixels = width * height;
  if (m.meanProb.length !== pixels * classes || m.meanSquareProb.length !== pixels * classes) {
    throw new Error(`moments: expected ${pixels * classes} class values per map`);
  }
  if (m.meanSampleEntropy.length !== pixels) {
    throw new Error(`moments: expected ${pixels} sample-entropy values`);
  }
  const norm = classes > 1 ? 1 / Math.log(classes) : 0;
  const entropy = new Float32Array(pixels);
  const mutualInformation = new Float32Array(pixels);
  const std = new Float32Array(pixels * classes);
  const single = m.samples <= 1;
  for (let i = 0; i < pixels; i++) {
    const off = i * classes;
    const h = entropyNats(m.meanProb, off, classes);
    entropy[i] = clamp01(h * norm);
    // H[mean] >= mean H by concavity; rounding can make it slightly negative.
    // One sample has no spread by definition (exact 0, not rounding noise).
    mutualInformation[i] = single ? 0 : clamp01((h - m.meanSampleEntropy[i]) * norm);
    for (let c = 0; c < classes; c++) {
      if (single) {
        continue;
      }
      const mean = m.meanProb[off + c];
      const variance = m.meanSquareProb[off + c] - mean * mean;
      std[off + c] = variance > 0 ? Math.sqrt(variance) : 0;
    }
  }
  return {
    width,
    height,
    classes,
    meanProb: Float32Array.from(m.meanProb),
    entropy,
    mutualInformation,
    std,
    samples: m.samples
  };
}

/**
 * Streaming accumulator: add samples one at a time (or as a T*H*W*C block)
 * without keeping them. Uses float64 sums so that T in the hundreds stays exact
 * enough for the tests.
 */
export class MomentAccumulator {
  private readonly sum: Float64Array;
  private readonly sumSquare: Float64Array;
  private readonly sumEntropy: Float64Array;
  private count = 0;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly classes: number
  ) {
    const n = width * height;
    this.sum = new Float64Array(n * classes);
    this.sumSquare = new Float64Array(n * classes);
    this.sumEntropy = new Float64Array(n);
  }

  get samples(): number {
    return this.count;
  }

  /** One sample of H*W*C probabilities. */
  add(probabilities: ArrayLike<number>, offset = 0): void {
    const { classes } = this;
    const n = this.width * this.height;
    if (probabilities.length - offset < n * classes) {
      throw new Error(`sample too short: need ${n * classes} values`);
    }
    for (let i = 0; i < n; i++) {
      const off = i * classes;
      this.sumEntropy[i] += entropyNats(probabilities, offset + off, classes);
      for (let c = 0; c < classes; c++) {
        const v = probabilities[offset + off + c];
        this.sum[off + c] += v;
        this.sumSquare[off + c] += v * v;
      }
    }
    this.count++;
  }

  moments(): SampleMoments {
    if (this.count === 0) {
      throw new Error('no samples accumulated');
    }
    const inv = 1 / this.count;
    const meanProb = new Float32Array(this.sum.length);
    const meanSquareProb = new Float32Array(this.sum.length);
    const meanSampleEntropy = new Float32Array(this.sumEntropy.length);
    for (let i = 0; i < meanProb.length; i++) {
      meanProb[i] = this.sum[i] * inv;
      meanSquareProb[i] = this.sumSquare[i] * inv;
    }
    for (let i = 0; i < meanSampleEntropy.length; i++) {
      meanSampleEntropy[i] = this.sumEntropy[i] * inv;
    }
    return {
      width: this.width,
      height: this.height,
      classes: this.classes,
      meanProb,
      meanSquareProb,
      meanSampleEntropy,
      samples: this.count
    };
  }

  maps(): UncertaintyMaps {
    return mapsFromMoments(this.moments());
  }
}

/** Reference path: maps of T samples, each H*W*C. */
export function mapsFromSamples(samples: ArrayLike<number>[], width: number, height: number, classes: number): UncertaintyMaps {
  const acc = new MomentAccumulator(width, height, classes);
  for (const s of samples) {
    acc.add(s);
  }
  return acc.maps();
}

/** Argmax class per pixel of the mean probabilities (the segmentation). */
export function predictedClasses(maps: UncertaintyMaps): Uint8Array {
  const { classes } = maps;
  const n = maps.width * maps.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < classes; c++) {
      const v = maps.meanProb[i * classes + c];
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

/** True when any value of the maps is NaN or infinite (a broken model). */
export function hasNonFinite(maps: UncertaintyMaps): boolean {
  const arrays = [maps.meanProb, maps.entropy, maps.mutualInformation, maps.std];
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i])) {
        return true;
      }
    }
  }
  return false;
}
