/**
 * The end of the network computed in JS, sample by sample, straight into the
 * three moment sums, on backends whose tensors live in CPU memory (wasm,
 * cpu). A segmentation head is usually `[Dropout] -> 1x1 Conv2D -> softmax`:
 * on the device that is a mask upload, a multiply, a conv, a softmax and the
 * reductions, each materialising [T, H, W, C(in)]; here it is one pass per
 * row that reads the head's input once and keeps only H*W*(2C+1) sums.
 * The tail's dropout mask is the same stream dropoutMask would draw for the
 * whole [rows, H, W, Cin] block with one seed, so sample i is what the
 * device path would give (tested).
 */
import type * as tfType from '@tensorflow/tfjs';
import type { GraphNode, GraphPlan } from './graph';
import { isActiveDropout } from './model';
import { DropoutStream } from './random';

export interface HostTail {
  /** Nodes the tail replaces (not run on the device). */
  nodes: GraphNode[];
  /** Symbolic id of the tail's input (the head conv's input, before its Dropout). */
  inputId: number;
  /** Dropout rate in front of the head conv, or null. */
  dropoutRate: number | null;
  /** The 1x1 conv layer (weights read at run time). */
  conv: tfType.layers.Layer;
  inChannels: number;
  classes: number;
}

/** Running sums over MC samples of one patch. Float64: T-fold sums in float32 lose digits. */
export class MomentSums {
  readonly sumP: Float64Array;
  readonly sumP2: Float64Array;
  readonly sumH: Float64Array;
  samples = 0;

  constructor(
    readonly pixels: number,
    readonly classes: number
  ) {
    this.sumP = new Float64Array(pixels * classes);
    this.sumP2 = new Float64Array(pixels * classes);
    this.sumH = new Float64Array(pixels);
  }

  /** Add `rows` samples of probabilities laid out [rows, pixels, classes]. */
  addProbabilities(p: Float32Array, rows: number): void {
    const C = this.classes;
    const n = this.pixels * C;
    if (p.length < rows * n) {
      throw new Error(`expected ${rows * n} probabilities, got ${p.length}`);
    }
    const { sumP, sumP2, sumH } = this;
    for (let r = 0; r < rows; r++) {
      const base = r * n;
      for (let i = 0, q = 0; i < this.pixels; i++) {
        let h = 0;
        for (let c = 0; c < C; c++, q++) {
          const v = p[base + q];
          sumP[q] += v;
          sumP2[q] += v * v;
          if (v > 0) {
            h -= v * Math.log(v);
          }
        }
        sumH[i] += h;
      }
    }
    this.samples += rows;
  }
}

function layerConfig<T>(layer: tfType.layers.Layer): T {
  return layer.getConfig() as unknown as T;
}

/**
 * Find `[plain Dropout ->] Conv2D 1x1 [-> Activation softmax]` at the end of
 * the suffix such that exactly one softmax is applied (by the conv, the
 * Activation, or the engine for 'logits' models), with no other reader of
 * the intermediate tensors. Null when the model ends otherwise.
 */
export function planHostTail(plan: GraphPlan, readers: Map<number, number>, output: 'softmax' | 'logits'): HostTail | null {
  const producer = new Map<number, GraphNode>();
  for (const node of plan.suffix) {
    for (const t of node.outputTensors) {
      producer.set(t.id, node);
    }
  }
  const single = (id: number) => readers.get(id) === 1;
  let node = producer.get(plan.outputId);
  if (!node || node.outputTensors.length !== 1) {
    return null;
  }
  const nodes: GraphNode[] = [];
  let softmaxes = output === 'logits' ? 1 : 0;
  if (node.outboundLayer.getClassName() === 'Activation') {
    if (layerConfig<{ activation: string }>(node.outboundLayer).activation !== 'softmax' || !single(node.inputTensors[0].id)) {
      return null;
    }
    softmaxes++;
    nodes.unshift(node);
    node = producer.get(node.inputTensors[0].id);
    if (!node) {
      return null;
    }
  }
  const conv = node.outboundLayer;
  if (conv.getClassName() !== 'Conv2D' || node.inputTensors.length !== 1) {
    return null;
  }
  const cc = layerConfig<{ kernelSize: number[]; strides: number[]; activation?: string; dataFormat?: string; padding: string }>(conv);
  const ones = (v: number[] | number) => (Array.isArray(v) ? v : [v, v]).every(k => k === 1);
  if (!ones(cc.kernelSize) || !ones(cc.strides) || cc.dataFormat === 'channelsFirst') {
    return null;
  }
  const activation = cc.activation ?? 'linear';
  if (activation === 'softmax') {
    softmaxes++;
  } else if (activation !== 'linear') {
    return null;
  }
  if (softmaxes !== 1) {
    return null;
  }
  nodes.unshift(node);
  const inShape = node.inputTensors[0].shape;
  const classes = node.outputTensors[0].shape[3];
  const inChannels = inShape[3];
  if (typeof classes !== 'number' || typeof inChannels !== 'number') {
    return null;
  }
  let inputId = node.inputTensors[0].id;
  let dropoutRate: number | null = null;
  const before = producer.get(inputId);
  if (
    before &&
    before.outboundLayer.getClassName() === 'Dropout' &&
    isActiveDropout(before.outboundLayer) &&
    !layerConfig<{ noiseShape?: unknown }>(before.outboundLayer).noiseShape &&
    single(inputId)
  ) {
    dropoutRate = layerConfig<{ rate: number }>(before.outboundLayer).rate;
    nodes.unshift(before);
    inputId = before.inputTensors[0].id;
  }
  return { nodes, inputId, dropoutRate, conv, inChannels, classes };
}

/** The conv's kernel as [Cin, C] and its bias (zeros without one). */
export function tailWeights(tail: HostTail): { kernel: Float32Array; bias: Float32Array } {
  const w = tail.conv.getWeights();
  const kernel = Float32Array.from(w[0].dataSync() as Float32Array);
  const useBias = layerConfig<{ useBias?: boolean }>(tail.conv).useBias !== false && w.length > 1;
  const bias = useBias ? Float32Array.from(w[1].dataSync() as Float32Array) : new Float32Array(tail.classes);
  return { kernel, bias };
}

/**
 * Add `rows` samples to `sums`: dropout (one stream for the whole block,
 * seeded once), 1x1 conv, softmax, and p, p^2, H[p] per pixel. `x` holds the
 * tail input for `xRows` rows (1 = broadcast to every sample).
 */
export function accumulateTail(
  tail: HostTail,
  weights: { kernel: Float32Array; bias: Float32Array },
  x: Float32Array,
  xRows: number,
  rows: number,
  seed: number,
  sums: MomentSums,
  scratch?: Float32Array
): Float32Array {
  const K = tail.inChannels;
  const C = tail.classes;
  const P = sums.pixels;
  const rowSize = P * K;
  if (x.length !== xRows * rowSize || (xRows !== 1 && xRows !== rows)) {
    throw new Error(`tail input has ${x.length} values, expected ${xRows} x ${rowSize}`);
  }
  const { kernel, bias } = weights;
  if (C === 2 && K % 2 === 0) {
    accumulateTwoClasses(
      tail.dropoutRate === null ? null : new DropoutStream(tail.dropoutRate, seed),
      kernel,
      bias,
      x,
      xRows,
      rows,
      K,
      sums
    );
    return scratch ?? new Float32Array(0);
  }
  const buf = tail.dropoutRate === null ? null : scratch && scratch.length >= rowSize ? scratch : new Float32Array(rowSize);
  const stream = tail.dropoutRate === null ? null : new DropoutStream(tail.dropoutRate, seed);
  const logits = new Float64Array(C);
  const exps = new Float64Array(C);
  const { sumP, sumP2, sumH } = sums;
  for (let r = 0; r < rows; r++) {
    const srcBase = xRows === 1 ? 0 : r * rowSize;
    let v: Float32Array;
    let base: number;
    if (buf && stream) {
      // This row's slice of the [rows, H, W, K] mask, applied as it is drawn.
      stream.fill(buf, 0, rowSize, x, x.length, srcBase);
      v = buf;
      base = 0;
    } else {
      v = x;
      base = srcBase;
    }
    for (let i = 0; i < P; i++) {
      const o = base + i * K;
      let max = -Infinity;
      for (let c = 0; c < C; c++) {
        let l = bias[c];
        for (let k = 0; k < K; k++) {
          l += v[o + k] * kernel[k * C + c];
        }
        logits[c] = l;
        if (l > max) {
          max = l;
        }
      }
      let s = 0;
      for (let c = 0; c < C; c++) {
        const z = logits[c] - max;
        logits[c] = z;
        const e = Math.exp(z);
        exps[c] = e;
        s += e;
      }
      // H = -sum p log p with log p = (l - max) - log s: one log per pixel.
      const logS = Math.log(s);
      let h = 0;
      const q0 = i * C;
      for (let c = 0; c < C; c++) {
        const p = exps[c] / s;
        sumP[q0 + c] += p;
        sumP2[q0 + c] += p * p;
        if (p > 0) {
          h -= p * (logits[c] - logS);
        }
      }
      sumH[i] += h;
    }
  }
  sums.samples += rows;
  return buf ?? new Float32Array(0);
}

/**
 * accumulateTail for two classes and an even channel count (the common
 * binary segmentation head): the mask draws are inlined (two 16-bit
 * uniforms per 32-bit draw, in stream order, so the numbers equal the
 * general path), nothing is written but the sums, and the softmax over two
 * logits is a logistic with one exp and one log per pixel:
 * with a = |l1 - l0|, e = exp(-a), s = 1 + e: p_max = 1 / s, p_min = e / s,
 * H = log s + a * p_min.
 */
function accumulateTwoClasses(
  stream: DropoutStream | null,
  kernel: Float32Array,
  bias: Float32Array,
  x: Float32Array,
  xRows: number,
  rows: number,
  K: number,
  sums: MomentSums
): void {
  const P = sums.pixels;
  const rowSize = P * K;
  const { sumP, sumP2, sumH } = sums;
  const w0 = new Float64Array(K);
  const w1 = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    w0[k] = kernel[k * 2];
    w1[k] = kernel[k * 2 + 1];
  }
  const b0 = bias[0];
  const b1 = bias[1];
  const threshold = stream ? stream.dropThreshold : 0;
  const keep = stream ? stream.keep : 1;
  let [a, b, c, d] = stream ? stream.state() : [0, 0, 0, 0];
  for (let r = 0; r < rows; r++) {
    let o = xRows === 1 ? 0 : r * rowSize;
    for (let i = 0; i < P; i++, o += K) {
      let l0 = 0;
      let l1 = 0;
      if (stream) {
        for (let k = 0; k < K; k += 2) {
          const b5 = Math.imul(b, 5);
          const rnd = Math.imul((b5 << 7) | (b5 >>> 25), 9);
          const t = b << 9;
          c ^= a;
          d ^= b;
          b ^= c;
          a ^= d;
          c ^= t;
          d = (d << 11) | (d >>> 21);
          // Branch-free keep bits (a 20 % drop rate mispredicts a branch often):
          // (u - threshold) >>> 31 is 1 exactly when u < threshold (dropped).
          const v0 = x[o + k] * (1 - (((rnd & 0xffff) - threshold) >>> 31));
          const v1 = x[o + k + 1] * (1 - (((rnd >>> 16) - threshold) >>> 31));
          l0 += v0 * w0[k] + v1 * w0[k + 1];
          l1 += v0 * w1[k] + v1 * w1[k + 1];
        }
        // Kept units are scaled by 1 / (1 - q) (inverted dropout).
        l0 = l0 * keep + b0;
        l1 = l1 * keep + b1;
      } else {
        for (let k = 0; k < K; k++) {
          const v = x[o + k];
          l0 += v * w0[k];
          l1 += v * w1[k];
        }
        l0 += b0;
        l1 += b1;
      }
      const diff = l1 - l0;
      const abs = diff < 0 ? -diff : diff;
      const e = Math.exp(-abs);
      const s = 1 + e;
      const pMax = 1 / s;
      const pMin = e / s;
      const p1 = diff >= 0 ? pMax : pMin;
      const p0 = diff >= 0 ? pMin : pMax;
      const q = i * 2;
      sumP[q] += p0;
      sumP[q + 1] += p1;
      sumP2[q] += p0 * p0;
      sumP2[q + 1] += p1 * p1;
      sumH[i] += Math.log(s) + abs * pMin;
    }
  }
  if (stream) {
    stream.setState([a, b, c, d]);
  }
  sums.samples += rows;
}
