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
