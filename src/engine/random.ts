/**
 * Dropout masks drawn in JS. tfjs' own dropout draws with seedrandom's alea
 * on the CPU too, then needs add/floor/div ops; this is several times faster.
 * Pure; no tfjs.
 *
 * Generator: xoshiro128** (state seeded with splitmix32), inlined because a
 * method call per draw was 5x slower in V8. Each 32-bit draw gives two 16-bit
 * uniforms, so the rate is applied as q = round(rate * 65536) / 65536
 * (|q - rate| <= 7.6e-6), and kept units are scaled by 1 / (1 - q): the
 * multiplier has expectation exactly 1, like Keras/tfjs inverted dropout.
 */

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** The dropout rate actually applied for a requested rate (16-bit quantisation). */
export function quantisedRate(rate: number): number {
  return Math.round(rate * 65536) / 65536;
}

/**
 * Inverted-dropout multiplier of `size` entries: each independently 0 with
 * probability quantisedRate(rate), else 1 / (1 - quantisedRate(rate)).
 */
export function dropoutMask(size: number, rate: number, seed: number): Float32Array {
  if (!(rate >= 0 && rate < 1)) {
    throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  }
  const threshold = Math.round(rate * 65536);
  const keep = 1 / (1 - threshold / 65536);
  const mask = new Float32Array(size);
  const st = { s: seed >>> 0 };
  let a = splitmix32(st);
  let b = splitmix32(st);
  let c = splitmix32(st);
  let d = splitmix32(st);
  if ((a | b | c | d) === 0) {
    a = 1;
  }
  for (let i = 0; i < size; i += 2) {
    const b5 = Math.imul(b, 5);
    const r = Math.imul((b5 << 7) | (b5 >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    mask[i] = (r & 0xffff) >= threshold ? keep : 0;
    if (i + 1 < size) {
      mask[i + 1] = r >>> 16 >= threshold ? keep : 0;
    }
  }
  return mask;
}
