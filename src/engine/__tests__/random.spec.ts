import { DropoutStream, dropoutInto, dropoutMask, quantisedRate } from '../random';

describe('dropout masks', () => {
  it('drop at the requested rate with multiplier of mean 1', () => {
    for (const rate of [0.1, 0.2, 0.5]) {
      const n = 200001; // odd: the last entry uses half a draw
      const m = dropoutMask(n, rate, 7);
      const keep = Math.fround(1 / (1 - quantisedRate(rate)));
      let dropped = 0;
      let other = 0;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        if (m[i] === 0) {
          dropped++;
        } else if (m[i] !== keep) {
          other++;
        }
        sum += m[i];
      }
      expect(other).toBe(0);
      // Binomial: 5 standard deviations.
      const sd = Math.sqrt(n * rate * (1 - rate));
      expect(Math.abs(dropped - n * rate)).toBeLessThan(5 * sd);
      expect(Math.abs(sum / n - 1)).toBeLessThan((5 * sd) / n / (1 - rate));
    }
  });

  it('is reproducible per seed, differs between seeds, and has no pair correlation', () => {
    const a = dropoutMask(1000, 0.5, 1);
    expect(Array.from(dropoutMask(1000, 0.5, 1))).toEqual(Array.from(a));
    expect(Array.from(dropoutMask(1000, 0.5, 2))).not.toEqual(Array.from(a));
    // The two halves of one 32-bit draw are independent: P(both dropped) ~ 1/4.
    const m = dropoutMask(400000, 0.5, 3);
    let both = 0;
    for (let i = 0; i < m.length; i += 2) {
      both += m[i] === 0 && m[i + 1] === 0 ? 1 : 0;
    }
    const pairs = m.length / 2;
    expect(Math.abs(both / pairs - 0.25)).toBeLessThan(5 * Math.sqrt((0.25 * 0.75) / pairs));
  });

  it('rate 0 keeps everything; the quantisation error is tiny; bad rates throw', () => {
    expect(Array.from(dropoutMask(5, 0, 1))).toEqual([1, 1, 1, 1, 1]);
    expect(Math.abs(quantisedRate(0.2) - 0.2)).toBeLessThan(7.7e-6);
    expect(() => dropoutMask(4, 1, 1)).toThrow();
    expect(() => dropoutMask(4, -0.1, 1)).toThrow();
  });

  it('a stream cut into odd and even pieces gives the same mask as one draw', () => {
    const whole = dropoutMask(1001, 0.3, 9);
    const stream = new DropoutStream(0.3, 9);
    const pieces = new Float32Array(1001);
    let at = 0;
    for (const n of [1, 2, 3, 7, 100, 333, 555]) {
      stream.fill(pieces, at, n);
      at += n;
    }
    expect(at).toBe(1001);
    expect(Array.from(pieces)).toEqual(Array.from(whole));
  });

  it('dropoutInto multiplies a broadcast source by the same mask in one pass', () => {
    const src = Float32Array.from({ length: 15 }, (_, i) => i + 1);
    const rows = 4;
    const mask = dropoutMask(rows * 15, 0.5, 4);
    const out = dropoutInto(new Float32Array(rows * 15), 0.5, 4, src, 15);
    const expected = Array.from(mask, (m, i) => m * src[i % 15]);
    expect(Array.from(out)).toEqual(expected);
    // Pieces with a source offset: the same numbers.
    const stream = new DropoutStream(0.5, 4);
    const pieces = new Float32Array(rows * 15);
    stream.fill(pieces, 0, 22, src, 15, 0);
    stream.fill(pieces, 22, 38, src, 15, 22);
    expect(Array.from(pieces)).toEqual(expected);
    expect(() => dropoutInto(new Float32Array(4), 0.5, 1, src, 16)).toThrow(/period/);
    // Even period (the row-broadcast fast loop), cut at even and odd points.
    const src16 = Float32Array.from({ length: 16 }, (_, i) => i - 7.5);
    const mask16 = dropoutMask(5 * 16, 0.3, 8);
    const expected16 = Array.from(mask16, (m, i) => Math.fround(m * src16[i % 16]));
    expect(Array.from(dropoutInto(new Float32Array(80), 0.3, 8, src16, 16))).toEqual(expected16);
    const s16 = new DropoutStream(0.3, 8);
    const p16 = new Float32Array(80);
    s16.fill(p16, 0, 22, src16, 16, 0);
    s16.fill(p16, 22, 33, src16, 16, 22);
    s16.fill(p16, 55, 25, src16, 16, 55);
    expect(Array.from(p16)).toEqual(expected16);
  });
});
