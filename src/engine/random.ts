/**
 * Dropout masks drawn in JS. tfjs' own dropout draws with seedrandom's alea
 * on the CPU too, then needs add/floor/div ops; this is several times faster.
 * Pure; no tfjs.
 *
 * Generator: xoshiro128** (state seeded with splitmix32), inlined because a
 * method call per draw was 5x slower in V8; all arithmetic stays in int32 so
 * V8 never boxes a draw as a double. Each 32-bit draw gives two 16-bit
 * uniforms, so the rate is applied as q = round(rate * 65536) / 65536
 * (|q - rate| <= 7.6e-6), and kept units are scaled by 1 / (1 - q): the
 * multiplier has expectation exactly 1, like Keras/tfjs inverted dropout.
 */

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) | 0;
}

/** xoshiro128** state from a seed (splitmix32), never all zero. */
export function xoshiroState(seed: number): [number, number, number, number] {
  const st = { s: seed >>> 0 };
  const s: [number, number, number, number] = [splitmix32(st), splitmix32(st), splitmix32(st), splitmix32(st)];
  if ((s[0] | s[1] | s[2] | s[3]) === 0) {
    s[0] = 1;
  }
  return s;
}

/** The dropout rate actually applied for a requested rate (16-bit quantisation). */
export function quantisedRate(rate: number): number {
  return Math.round(rate * 65536) / 65536;
}

function checkRate(rate: number): void {
  if (!(rate >= 0 && rate < 1)) {
    throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  }
}

/**
 * A stream of dropout multipliers: entry i of the stream is entry i of
 * dropoutMask(n, rate, seed) for any n > i, however the stream is cut into
 * fill() calls. Lets a caller draw one mask for [rows, H, W, C] piece by
 * piece (a row at a time) without holding all of it.
 */
export class DropoutStream {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** High half of the last draw when an odd count was consumed, else -1. */
  private pending = -1;
  private readonly threshold: number;
  readonly keep: number;

  constructor(rate: number, seed: number) {
    checkRate(rate);
    this.threshold = Math.round(rate * 65536);
    // float32, as a mask tensor holds it: src * keep then equals tf.mul(src, mask) bit for bit.
    this.keep = Math.fround(1 / (1 - this.threshold / 65536));
    [this.a, this.b, this.c, this.d] = xoshiroState(seed);
  }

  /** Rate threshold on a 16-bit uniform (drop when below). */
  get dropThreshold(): number {
    return this.threshold;
  }

  /**
   * The generator state, for kernels that inline the draws (hostTail); they
   * must hand it back with setState and consume entries in stream order.
   * Only valid with no pending half draw.
   */
  state(): [number, number, number, number] {
    if (this.pending >= 0) {
      throw new Error('DropoutStream: a half draw is pending');
    }
    return [this.a, this.b, this.c, this.d];
  }

  setState(s: [number, number, number, number]): void {
    [this.a, this.b, this.c, this.d] = s;
  }

  /**
   * out[offset + i] = src[(srcOffset + i) mod period] * m (or m alone without
   * src) for the next `count` multipliers m of the stream. Drawing and
   * applying the mask in one pass saves a mask buffer and a multiply op;
   * a `period` shorter than count broadcasts one sample's activations to
   * several MC rows.
   */
  fill(out: Float32Array, offset = 0, count = out.length - offset, src?: Float32Array, period = src?.length ?? 0, srcOffset = 0): void {
    if (src && (period <= 0 || period > src.length)) {
      throw new Error(`dropout source period ${period} does not fit ${src.length} values`);
    }
    const threshold = this.threshold;
    const keep = this.keep;
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
    let i = offset;
    const end = offset + count;
    let j = src ? srcOffset % period : 0;
    if (this.pending >= 0 && i < end) {
      const k = this.pending >= threshold ? keep : 0;
      out[i++] = src ? src[j] * k : k;
      if (src && ++j === period) {
        j = 0;
      }
      this.pending = -1;
    }
    const pairsEnd = i + ((end - i) & ~1);
    // Two loops so that the hot one has no branch on `src` (V8 keeps them monomorphic).
    if (src && period % 2 === 0 && j % 2 === 0) {
      // Broadcast of whole rows: the source index runs alongside, no wrap test per entry.
      while (i < pairsEnd) {
        const segEnd = Math.min(pairsEnd, i + (period - j));
        for (; i < segEnd; i += 2, j += 2) {
          const b5 = Math.imul(b, 5);
          const r = Math.imul((b5 << 7) | (b5 >>> 25), 9);
          const t = b << 9;
          c ^= a;
          d ^= b;
          b ^= c;
          a ^= d;
          c ^= t;
          d = (d << 11) | (d >>> 21);
          out[i] = src[j] * keep * (1 - (((r & 0xffff) - threshold) >>> 31));
          out[i + 1] = src[j + 1] * keep * (1 - (((r >>> 16) - threshold) >>> 31));
        }
        if (j >= period) {
          j = 0;
        }
      }
    } else if (src) {
      for (; i < pairsEnd; i += 2) {
        const b5 = Math.imul(b, 5);
        const r = Math.imul((b5 << 7) | (b5 >>> 25), 9);
        const t = b << 9;
        c ^= a;
        d ^= b;
        b ^= c;
        a ^= d;
        c ^= t;
        d = (d << 11) | (d >>> 21);
        // Branch-free: (u - threshold) >>> 31 is 1 exactly when u < threshold (dropped).
        out[i] = src[j] * keep * (1 - (((r & 0xffff) - threshold) >>> 31));
        if (++j === period) {
          j = 0;
        }
        out[i + 1] = src[j] * keep * (1 - (((r >>> 16) - threshold) >>> 31));
        if (++j === period) {
          j = 0;
        }
      }
    } else {
      for (; i < pairsEnd; i += 2) {
        const b5 = Math.imul(b, 5);
        const r = Math.imul((b5 << 7) | (b5 >>> 25), 9);
        const t = b << 9;
        c ^= a;
        d ^= b;
        b ^= c;
        a ^= d;
        c ^= t;
        d = (d << 11) | (d >>> 21);
        out[i] = (r & 0xffff) >= threshold ? keep : 0;
        out[i + 1] = r >>> 16 >= threshold ? keep : 0;
      }
    }
    if (i < end) {
      // Odd count: the low half now, the high half kept for the next call.
      const b5 = Math.imul(b, 5);
      const r = Math.imul((b5 << 7) | (b5 >>> 25), 9);
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
      const k = (r & 0xffff) >= threshold ? keep : 0;
      out[i] = src ? src[j] * k : k;
      this.pending = r >>> 16;
    }
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }
}

/** dropoutMask(out.length, rate, seed) applied to src (broadcast with `period`), in one pass. */
export function dropoutInto(out: Float32Array, rate: number, seed: number, src?: Float32Array, period?: number): Float32Array {
  new DropoutStream(rate, seed).fill(out, 0, out.length, src, period ?? src?.length);
  return out;
}

/**
 * Inverted-dropout multiplier of `size` entries: each independently 0 with
 * probability quantisedRate(rate), else 1 / (1 - quantisedRate(rate)).
 */
export function dropoutMask(size: number, rate: number, seed: number): Float32Array {
  checkRate(rate);
  return dropoutInto(new Float32Array(size), rate, seed);
}
