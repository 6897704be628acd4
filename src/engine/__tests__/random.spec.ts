import { dropoutMask, quantisedRate } from '../random';

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
    expect(Math.abs(both / pairs - 0.25)).toBeLessThan(5 * Math.sqrt(0.25 * 0.75 / pairs));
  });

  it('rate 0 keeps everything; the quantisation error is tiny; bad rates throw', () => {
    expect(Array.from(dropoutMask(5, 0, 1))).toEqual([1, 1, 1, 1, 1]);
    expect(Math.abs(quantisedRate(0.2) - 0.2)).toBeLessThan(7.7e-6);
    expect(() => dropoutMask(4, 1, 1)).toThrow();
    expect(() => dropoutMask(4, -0.1, 1)).toThrow();
  });
});
