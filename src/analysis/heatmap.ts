/**
 * Uncertainty heatmap colours. Pure: values in [0,1] to RGBA, so it is
 * testable without a browser and reusable by exports.
 */

/** Control points of an "inferno"-like ramp: dark purple -> red -> yellow. */
const RAMP: [number, number, number, number][] = [
  [0.0, 20, 11, 52],
  [0.25, 101, 21, 110],
  [0.5, 188, 55, 84],
  [0.75, 249, 142, 9],
  [1.0, 252, 255, 164]
];

/** RGB of the ramp at v (clamped to [0,1]). */
export function rampColor(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0));
  for (let i = 1; i < RAMP.length; i++) {
    const [t1, r1, g1, b1] = RAMP[i];
    const [t0, r0, g0, b0] = RAMP[i - 1];
    if (t <= t1) {
      const f = (t - t0) / (t1 - t0);
      return [Math.round(r0 + f * (r1 - r0)), Math.round(g0 + f * (g1 - g0)), Math.round(b0 + f * (b1 - b0))];
    }
  }
  const last = RAMP[RAMP.length - 1];
  return [last[1], last[2], last[3]];
}

const RAMP_STEPS = 1024;
/** rampColor at RAMP_STEPS evenly spaced values (0 and 1 exact). */
const RAMP_LUT = (() => {
  const lut = new Uint8Array(RAMP_STEPS * 3);
  for (let i = 0; i < RAMP_STEPS; i++) {
    lut.set(rampColor(i / (RAMP_STEPS - 1)), i * 3);
  }
  return lut;
})();

export interface HeatmapOptions {
  /** Values below this are fully transparent (confident pixels stay readable). */
  floor?: number;
  /** Values mapped to the top of the ramp (contrast stretch); default 1. */
  ceiling?: number;
  /** 1 = analysed; uncovered pixels are transparent. */
  covered?: Uint8Array;
}

/**
 * RGBA pixels (interleaved, width*height*4) for a map of values in [0,1].
 * Alpha grows with the value so that only uncertain areas stand out.
 */
export function heatmapRGBA(values: Float32Array, width: number, height: number, options: HeatmapOptions = {}): Uint8ClampedArray {
  const floor = options.floor ?? 0.05;
  const ceiling = options.ceiling ?? 1;
  const span = Math.max(1e-6, ceiling - floor);
  const out = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    if (options.covered && !options.covered[i]) {
      continue;
    }
    const v = (values[i] - floor) / span;
    if (!(v > 0)) {
      continue;
    }
    const t = Math.min(1, v);
    // A lookup table instead of rampColor per pixel: no allocation in a loop over millions of pixels.
    const k = Math.round(t * (RAMP_STEPS - 1)) * 3;
    out[i * 4] = RAMP_LUT[k];
    out[i * 4 + 1] = RAMP_LUT[k + 1];
    out[i * 4 + 2] = RAMP_LUT[k + 2];
    out[i * 4 + 3] = Math.round(80 + 175 * t);
  }
  return out;
}

export type HeatmapMeasure = 'entropy' | 'mutual_information' | 'std';

/** One line on what each measure means, for the legend. */
export const MEASURE_MEANING: Record<HeatmapMeasure, string> = {
  entropy: 'Predictive entropy: how unsure the averaged prediction is (1 = uniform over classes).',
  mutual_information: 'Mutual information: how much the MC-dropout samples disagree (model uncertainty).',
  std: 'Standard deviation of the foreground probability across the MC samples.'
};

export interface MeasureScale {
  /** Value at the top of the colour ramp. */
  ceiling: number;
  /** Values below are transparent. */
  floor: number;
  /** Largest value over the covered pixels. */
  max: number;
  /** True when the measure carries almost no signal anywhere (max below `nearZero`). */
  nearZero: boolean;
}

/** The per-pixel values of a measure (std: of the foreground class). */
export function measureValues(
  maps: { width: number; height: number; classes: number; entropy: Float32Array; mutualInformation: Float32Array; std: Float32Array },
  measure: HeatmapMeasure,
  foregroundClass = 1
): Float32Array {
  if (measure === 'entropy') {
    return maps.entropy;
  }
  if (measure === 'mutual_information') {
    return maps.mutualInformation;
  }
  const n = maps.width * maps.height;
  const out = new Float32Array(n);
  const c = Math.min(Math.max(0, foregroundClass), maps.classes - 1);
  for (let i = 0; i < n; i++) {
    out[i] = maps.std[i * maps.classes + c];
  }
  return out;
}

/**
 * Colour scale of a measure. Entropy has a natural [0, 1] range; MI and std
 * are small and are stretched to their 99th percentile so the map is
 * readable — and flagged as near zero when even that is tiny, so the UI says
 * so instead of showing stretched noise as if it meant something.
 */
export function measureScale(values: Float32Array, measure: HeatmapMeasure, covered?: Uint8Array, nearZero = 0.02): MeasureScale {
  const picked: number[] = [];
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    if (covered && !covered[i]) {
      continue;
    }
    const v = values[i];
    if (v > max) {
      max = v;
    }
    if ((i & 7) === 0) {
      picked.push(v);
    }
  }
  if (measure === 'entropy') {
    return { ceiling: 1, floor: 0.05, max, nearZero: max < nearZero };
  }
  picked.sort((a, b) => a - b);
  const p99 = picked.length ? picked[Math.min(picked.length - 1, Math.floor(picked.length * 0.99))] : 0;
  const ceiling = Math.max(1e-6, p99 || max);
  return { ceiling, floor: ceiling * 0.05, max, nearZero: max < nearZero };
}

/**
 * RGBA of a label map in class colours: 'fill' paints every pixel of a
 * non-background class, 'outline' only the pixels on a class boundary
 * (4-neighbour), so the tissue under it stays visible. Background (class 0)
 * and uncovered pixels stay transparent.
 */
export function maskRGBA(
  labels: Uint8Array,
  width: number,
  height: number,
  colors: readonly (readonly [number, number, number])[],
  style: 'fill' | 'outline',
  covered?: Uint8Array
): Uint8ClampedArray {
  const out = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const c = labels[i];
      if (c === 0 || c >= colors.length || (covered && !covered[i])) {
        continue;
      }
      if (style === 'outline') {
        const edge =
          x === 0 ||
          y === 0 ||
          x === width - 1 ||
          y === height - 1 ||
          labels[i - 1] !== c ||
          labels[i + 1] !== c ||
          labels[i - width] !== c ||
          labels[i + width] !== c;
        if (!edge) {
          continue;
        }
      }
      const [r, g, b] = colors[c];
      out[i * 4] = r;
      out[i * 4 + 1] = g;
      out[i * 4 + 2] = b;
      out[i * 4 + 3] = 255;
    }
  }
  return out;
}
