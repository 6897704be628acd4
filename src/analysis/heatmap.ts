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
      return [
        Math.round(r0 + f * (r1 - r0)),
        Math.round(g0 + f * (g1 - g0)),
        Math.round(b0 + f * (b1 - b0))
      ];
    }
  }
  const last = RAMP[RAMP.length - 1];
  return [last[1], last[2], last[3]];
}

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
export function heatmapRGBA(
  values: Float32Array,
  width: number,
  height: number,
  options: HeatmapOptions = {}
): Uint8ClampedArray {
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
    const [r, g, b] = rampColor(t);
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = Math.round(80 + 175 * t);
  }
  return out;
}
