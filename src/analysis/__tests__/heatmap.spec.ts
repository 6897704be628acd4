import { heatmapRGBA, rampColor } from '../heatmap';

describe('heatmap colours', () => {
  it('runs from dark to bright along the ramp', () => {
    expect(rampColor(0)).toEqual([20, 11, 52]);
    expect(rampColor(1)).toEqual([252, 255, 164]);
    expect(rampColor(0.5)).toEqual([188, 55, 84]);
    // Halfway between two control points.
    expect(rampColor(0.125)).toEqual([61, 16, 81]);
    const lum = (c: number[]) => 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    let last = -1;
    for (let v = 0; v <= 1; v += 0.05) {
      const l = lum(rampColor(v));
      expect(l).toBeGreaterThan(last);
      last = l;
    }
  });

  it('clamps out-of-range and non-finite values', () => {
    expect(rampColor(-3)).toEqual(rampColor(0));
    expect(rampColor(7)).toEqual(rampColor(1));
    expect(rampColor(NaN)).toEqual(rampColor(0));
  });

  it('leaves confident and unanalysed pixels transparent', () => {
    const values = new Float32Array([0, 0.02, 0.5, 1, 1]);
    const covered = new Uint8Array([1, 1, 1, 1, 0]);
    const rgba = heatmapRGBA(values, 5, 1, { floor: 0.05, covered });
    const alpha = [3, 7, 11, 15, 19].map(i => rgba[i]);
    expect(alpha[0]).toBe(0);
    expect(alpha[1]).toBe(0);
    expect(alpha[2]).toBeGreaterThan(0);
    expect(alpha[3]).toBe(255);
    expect(alpha[4]).toBe(0);
    expect(alpha[3]).toBeGreaterThan(alpha[2]);
    expect([rgba[12], rgba[13], rgba[14]]).toEqual(rampColor(1));
  });
});

import { maskRGBA, measureScale, measureValues } from '../heatmap';

describe('measures and their scale', () => {
  const maps = {
    width: 2,
    height: 1,
    classes: 2,
    entropy: new Float32Array([0.2, 0.9]),
    mutualInformation: new Float32Array([0.001, 0.004]),
    std: new Float32Array([0.1, 0.3, 0.05, 0.25])
  };
  it('reads std of the foreground class', () => {
    expect(Array.from(measureValues(maps, 'std', 1))).toEqual([Math.fround(0.3), Math.fround(0.25)]);
    expect(measureValues(maps, 'entropy')).toBe(maps.entropy);
  });
  it('flags a measure that is near zero everywhere instead of stretching noise silently', () => {
    const mi = measureScale(maps.mutualInformation, 'mutual_information');
    expect(mi.nearZero).toBe(true);
    expect(mi.max).toBeCloseTo(0.004, 6);
    const ent = measureScale(maps.entropy, 'entropy');
    expect(ent).toMatchObject({ ceiling: 1, nearZero: false });
    // Uncovered pixels do not count.
    expect(measureScale(maps.entropy, 'entropy', new Uint8Array([1, 0])).max).toBeCloseTo(0.2, 6);
  });
  it('stretches a small measure to its 99th percentile', () => {
    const v = new Float32Array(1000).map((_, i) => (i === 999 ? 1 : (i % 100) / 1000));
    const s = measureScale(v, 'std');
    expect(s.ceiling).toBeLessThan(0.2);
    expect(s.ceiling).toBeGreaterThan(0.05);
  });
});

describe('predicted mask colours', () => {
  // 4x3 labels: a 2x2 block of class 1 inside background, one class 2 pixel.
  const labels = new Uint8Array([0, 0, 0, 2, 0, 1, 1, 0, 0, 1, 1, 0]);
  const colors: [number, number, number][] = [
    [0, 0, 0],
    [200, 0, 0],
    [0, 0, 200]
  ];
  it('fills every non-background pixel in its class colour', () => {
    const rgba = maskRGBA(labels, 4, 3, colors, 'fill');
    const alpha = Array.from({ length: 12 }, (_, i) => rgba[i * 4 + 3]);
    expect(alpha).toEqual([0, 0, 0, 255, 0, 255, 255, 0, 0, 255, 255, 0]);
    expect(Array.from(rgba.slice(3 * 4, 3 * 4 + 3))).toEqual([0, 0, 200]);
  });
  it('outlines only boundary pixels and respects coverage', () => {
    const big = new Uint8Array(25).fill(1); // 5x5 all class 1: only the border is outline
    const rgba = maskRGBA(big, 5, 5, colors, 'outline');
    expect(rgba[(2 * 5 + 2) * 4 + 3]).toBe(0);
    expect(rgba[(0 * 5 + 2) * 4 + 3]).toBe(255);
    const covered = new Uint8Array(12);
    expect(maskRGBA(labels, 4, 3, colors, 'fill', covered).every(v => v === 0)).toBe(true);
  });
});
