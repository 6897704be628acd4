/**
 * MC-dropout inference with exact prefix caching.
 *
 * The layers that no active Dropout feeds (the "prefix", e.g. a U-Net encoder
 * when Dropout sits at the bottleneck) give the same result in every MC
 * sample, so they run once per patch; their outputs at the frontier are
 * repeated T times along the batch axis and only the stochastic suffix runs
 * with a fresh dropout mask per row. Every row is an independent sample of
 * the same distribution as a full pass with dropout on, so the maps follow
 * the distribution of T naive passes exactly (tested), at the cost of
 * prefix + T * suffix instead of T * (prefix + suffix).
 *
 * Only Dropout is stochastic: every other layer (BatchNormalization
 * included) is called with training = false.
 *
 * The T samples are reduced on the device to three sums (p, p^2, H[p]) so
 * only H*W*(2C+1) floats per patch come back to the CPU.
 *
 * Execution is our own walk of the layer graph (graph.ts) rather than a
 * tf.model sub-model, because the suffix must run with dropout on and the
 * rest off: prefix steps run once per chunk of patches, suffix steps per
 * chunk of samples (up to maxBatch rows). A frontier tensor read only by
 * Dropout is not tiled T times: the [T, ...] mask broadcasts it (the tile
 * copy cost more than the suffix on WASM). Conv2D+BN(+ReLU) run as one fused
 * conv. Between sample chunks the loop awaits tf.nextFrame() so the page
 * can paint; there is no Web Worker (on WASM each chunk blocks the thread
 * for its compute time — tens to hundreds of ms for a 224 px patch).
 */
import type * as tfType from '@tensorflow/tfjs';
import { SampleMoments, UncertaintyMaps, hasNonFinite, mapsFromMoments } from '../uncertainty/maps';
import { seededRandom } from '../uncertainty/scoring';
import { DropoutRandom, GraphPlan, Step, compileSteps, countReaders, dropoutOnlyInputs, planGraph, runSteps } from './graph';
import { readHost } from './hostIO';
import { BackendName, isOnBackend, switchBackend } from './backends';
import type { IUncertaintyEngine } from '../tokens';
import { HostTail, MomentSums, accumulateTail, planHostTail, tailWeights } from './hostTail';
import { ModelError, SegmentationModel } from './model';

export interface PatchPixels {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array | Uint8ClampedArray;
}

export interface McDropoutOptions {
  /** T, MC samples per patch; default 20. Forced to 1 when the model has no Dropout. */
  samples?: number;
  /** Most rows (patches or samples) through the network in one call; default from memoryBudgetMB. */
  maxBatch?: number;
  /** Budget for the activations of one call when maxBatch is not given; default 256 MB. */
  memoryBudgetMB?: number;
  /** Seed for reproducible dropout masks; default random. */
  seed?: number;
  /** false = naive MC (T full passes), for comparisons; default true. */
  cachePrefix?: boolean;
  /** Fold Conv2D+BatchNormalization(+ReLU) into one fused conv (exact in inference mode); default true. */
  fuseBatchNorm?: boolean;
  /** Backend to run on; default the model's. */
  backend?: BackendName;
  /**
   * On wasm/cpu, apply dropout masks and the 1x1 head + softmax + sums in JS
   * (same masks, same numbers up to rounding); false = all tensor ops, for
   * comparisons. Default true.
   */
  hostKernels?: boolean;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** In units of samples: done of total = patches * T. */
  onProgress?: (done: number, total: number) => void;
}

/** The error thrown when a run is cancelled through its AbortSignal. */
export function abortError(): Error {
  const err = new Error('Uncertainty analysis was cancelled');
  err.name = 'AbortError';
  return err;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) {
    throw abortError();
  }
}

/** Let the UI thread paint between batches (requestAnimationFrame in a browser, setImmediate/setTimeout in Node). */
async function yieldToEventLoop(tf: typeof tfType): Promise<void> {
  await tf.nextFrame();
}

/** RGB(A) uint8 patches to one normalised NHWC float32 block. */
export function normalisePatches(
  patches: PatchPixels[],
  height: number,
  width: number,
  normalization: { scale: number; mean: [number, number, number]; std: [number, number, number] }
): Float32Array {
  const { scale, mean, std } = normalization;
  const px = height * width;
  const out = new Float32Array(patches.length * px * 3);
  patches.forEach((p, n) => {
    if (p.width !== width || p.height !== height) {
      throw new Error(`patch ${n} is ${p.width}x${p.height}, the model takes ${width}x${height}`);
    }
    if (p.data.length < px * p.channels) {
      throw new Error(`patch ${n} has ${p.data.length} bytes, expected ${px * p.channels}`);
    }
    const base = n * px * 3;
    for (let i = 0; i < px; i++) {
      for (let c = 0; c < 3; c++) {
        out[base + i * 3 + c] = (p.data[i * p.channels + c] * scale - mean[c]) / std[c];
      }
    }
  });
  return out;
}

/** v * k as float32; a plain loop (Float32Array.from with a callback is several times slower). */
function scaled(v: ArrayLike<number>, k: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    out[i] = v[i] * k;
  }
  return out;
}

export class McDropout implements IUncertaintyEngine {
  readonly samples: number;
  readonly maxBatch: number;
  readonly plan: GraphPlan;
  readonly backend: BackendName;
  private readonly random: () => number;
  private readonly fuse: boolean;
  private readonly hostKernels: boolean;
  private readonly broadcastIds: Set<number>;
  /** The head computed in JS on CPU-memory backends, or null when the model ends otherwise. */
  readonly tail: HostTail | null;
  private disposed = false;

  constructor(
    readonly model: SegmentationModel,
    options: McDropoutOptions = {}
  ) {
    this.plan = planGraph(model.layersModel, options.cachePrefix ?? true, model.inputShape[0]);
    const stochastic = model.hasDropout && this.plan.suffix.length > 0;
    this.samples = stochastic ? Math.max(1, Math.floor(options.samples ?? 20)) : 1;
    if (options.maxBatch !== undefined) {
      this.maxBatch = Math.max(1, Math.floor(options.maxBatch));
    } else {
      const budgetFloats = ((options.memoryBudgetMB ?? 256) * 1024 * 1024) / 4;
      const perRow = Math.max(1, this.plan.suffixFloatsPerSample);
      this.maxBatch = Math.max(1, Math.min(64, Math.floor(budgetFloats / perRow)));
    }
    this.fuse = options.fuseBatchNorm ?? true;
    this.backend = options.backend ?? model.backend;
    this.hostKernels = options.hostKernels ?? true;
    this.broadcastIds = dropoutOnlyInputs(this.plan);
    this.tail = planHostTail(this.plan, countReaders(model.layersModel, this.plan), model.metadata.output);
    this.random = seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 31));
  }

  /** True when part of the graph is cached (computed once per patch). */
  get cachesPrefix(): boolean {
    return this.plan.prefix.length > 0 && this.plan.suffix.length > 0;
  }

  async run(patches: PatchPixels[], options: RunOptions = {}): Promise<UncertaintyMaps[]> {
    if (this.disposed) {
      throw new Error('McDropout was disposed');
    }
    const tf = await import('@tensorflow/tfjs');
    const { signal, onProgress } = options;
    throwIfAborted(signal);
    // Another engine (another panel, another backend) may have switched the
    // global backend during any await: check right before tensor work.
    const backend = this.backend;
    // (isOnBackend switches synchronously: the check must be the last thing before the work.)
    while (!isOnBackend(tf, backend)) {
      await switchBackend(tf, backend);
    }
    const [height, width] = this.model.inputShape;
    const meta = this.model.metadata;
    const T = this.samples;
    const total = patches.length * T;
    let done = 0;
    const results: UncertaintyMaps[] = [];
    // wasm and cpu keep tensors in CPU memory: dropout and the head run in JS
    // there (no mask uploads, no [T, H, W, C] intermediates); GPU backends
    // keep everything on the device and read back only the sums.
    const host = this.hostKernels && (backend === 'wasm' || backend === 'cpu');
    const random: DropoutRandom = { nextSeed: () => Math.floor(this.random() * 2147483647), host };
    const frontierIds = this.plan.frontier.map(t => t.id);
    const outputIsFrontier = frontierIds.includes(this.plan.outputId);
    const tail = host && !outputIsFrontier ? this.tail : null;
    const sampleBatch = Math.min(T, this.maxBatch);
    // Folded weights live for this run only, so nothing outlives it.
    const readers = countReaders(this.model.layersModel, this.plan);
    const prefix = compileSteps(tf, this.plan.prefix, readers, this.fuse);
    const suffixNodes = tail ? this.plan.suffix.filter(n => !tail.nodes.includes(n)) : this.plan.suffix;
    const suffix = compileSteps(tf, suffixNodes, readers, this.fuse);
    const weights = tail ? tailWeights(tail) : null;
    const scratch = { buf: undefined as Float32Array | undefined };
    try {
      for (let start = 0; start < patches.length; start += this.maxBatch) {
        throwIfAborted(signal);
        while (!isOnBackend(tf, backend)) {
          await switchBackend(tf, backend);
        }
        const chunk = patches.slice(start, start + this.maxBatch);
        const inputData = normalisePatches(chunk, height, width, meta.normalization);
        let frontier: Map<number, tfType.Tensor> | null = null;
        try {
          const input = tf.tensor4d(inputData, [chunk.length, height, width, 3]);
          try {
            frontier = runSteps(tf, prefix.steps, new Map([[this.plan.inputId, input]]), frontierIds, false, random);
          } finally {
            input.dispose();
          }
          for (let i = 0; i < chunk.length; i++) {
            if (host) {
              // Sums accumulate in place in JS, sample chunk by sample chunk.
              const sums = new MomentSums(height * width, this.model.classes);
              for (let s = 0; s < T; s += sampleBatch) {
                throwIfAborted(signal);
                while (!isOnBackend(tf, backend)) {
                  await switchBackend(tf, backend);
                }
                const rows = Math.min(sampleBatch, T - s);
                this.hostSamples(tf, suffix.steps, frontier, i, rows, outputIsFrontier, random, sums, tail, weights, scratch);
                done += rows;
                onProgress?.(done, total);
                await yieldToEventLoop(tf);
              }
              results.push(this.toMaps(sums.sumP, sums.sumP2, sums.sumH, height, width, T));
              continue;
            }
            let sums: tfType.Tensor[] | null = null;
            try {
              for (let s = 0; s < T; s += sampleBatch) {
                throwIfAborted(signal);
                while (!isOnBackend(tf, backend)) {
                  await switchBackend(tf, backend);
                }
                const rows = Math.min(sampleBatch, T - s);
                const partial = this.sampleSums(tf, suffix.steps, frontier, i, rows, outputIsFrontier, random);
                if (sums === null) {
                  sums = partial;
                } else {
                  const old: tfType.Tensor[] = sums;
                  sums = old.map((t, k) => tf.add(t, partial[k]));
                  old.forEach(t => t.dispose());
                  partial.forEach(t => t.dispose());
                }
                done += rows;
                onProgress?.(done, total);
                await yieldToEventLoop(tf);
              }
              const [sumP, sumP2, sumH] = await Promise.all(sums!.map(t => t.data() as Promise<Float32Array>));
              results.push(this.toMaps(sumP, sumP2, sumH, height, width, T));
            } finally {
              sums?.forEach(t => t.dispose());
            }
          }
        } finally {
          frontier?.forEach(t => t.dispose());
        }
      }
    } finally {
      prefix.dispose();
      suffix.dispose();
    }
    return results;
  }

  /** Batch-1 slices of patch `index`'s frontier, tiled to `rows` where a reader needs full rows. */
  private feedsFor(
    tf: typeof tfType,
    frontier: Map<number, tfType.Tensor>,
    index: number,
    rows: number,
    outputIsFrontier: boolean
  ): Map<number, tfType.Tensor> {
    const feeds = new Map<number, tfType.Tensor>();
    for (const [id, t] of frontier) {
      // Inputs read only by Dropout stay at batch 1: the [rows, ...] mask broadcasts them.
      const broadcast = this.broadcastIds.has(id) && !outputIsFrontier;
      feeds.set(
        id,
        tf.tidy(() => {
          const one = tf.slice(t, [index, ...t.shape.slice(1).map(() => 0)], [1, ...t.shape.slice(1)]);
          return rows === 1 || broadcast ? one : tf.tile(one, [rows, ...t.shape.slice(1).map(() => 1)]);
        })
      );
    }
    return feeds;
  }

  /** `rows` MC samples of patch `index` added to `sums` (CPU-memory backends). */
  private hostSamples(
    tf: typeof tfType,
    steps: Step[],
    frontier: Map<number, tfType.Tensor>,
    index: number,
    rows: number,
    outputIsFrontier: boolean,
    random: DropoutRandom,
    sums: MomentSums,
    tail: HostTail | null,
    weights: { kernel: Float32Array; bias: Float32Array } | null,
    scratch: { buf?: Float32Array }
  ): void {
    const feeds = this.feedsFor(tf, frontier, index, rows, outputIsFrontier);
    random.rows = rows;
    let computed: Map<number, tfType.Tensor> | null = null;
    try {
      if (tail && weights) {
        const id = tail.inputId;
        let x = feeds.get(id);
        if (!x) {
          computed = runSteps(tf, steps, feeds, [id], true, random);
          x = computed.get(id)!;
        }
        const seed = tail.dropoutRate === null ? 0 : random.nextSeed();
        scratch.buf = accumulateTail(tail, weights, readHost(tf, x), x.shape[0], rows, seed, sums, scratch.buf);
        return;
      }
      const logits = this.model.metadata.output === 'logits';
      const output = outputIsFrontier
        ? feeds.get(this.plan.outputId)!.clone()
        : runSteps(tf, steps, feeds, [this.plan.outputId], true, random).get(this.plan.outputId)!;
      const p = logits ? tf.tidy(() => tf.softmax(output)) : output;
      try {
        sums.addProbabilities(readHost(tf, p), rows);
      } finally {
        output.dispose();
        p.dispose();
      }
    } finally {
      feeds.forEach(t => t.dispose());
      computed?.forEach(t => t.dispose());
    }
  }

  /** Sums over `rows` MC samples of patch `index`: [sum p, sum p^2, sum H[p]]. */
  private sampleSums(
    tf: typeof tfType,
    steps: Step[],
    frontier: Map<number, tfType.Tensor>,
    index: number,
    rows: number,
    outputIsFrontier: boolean,
    random: DropoutRandom
  ): tfType.Tensor[] {
    const logits = this.model.metadata.output === 'logits';
    const feeds = this.feedsFor(tf, frontier, index, rows, outputIsFrontier);
    try {
      random.rows = rows;
      let output: tfType.Tensor;
      if (outputIsFrontier) {
        output = feeds.get(this.plan.outputId)!.clone();
      } else {
        output = runSteps(tf, steps, feeds, [this.plan.outputId], true, random).get(this.plan.outputId)!;
      }
      try {
        return tf.tidy(() => {
          const p = logits ? tf.softmax(output) : output;
          const plogp = tf.mul(p, tf.log(tf.maximum(p, 1e-30)));
          return [tf.sum(p, 0), tf.sum(tf.square(p), 0), tf.neg(tf.sum(plogp, [0, 3]))];
        });
      } finally {
        output.dispose();
      }
    } finally {
      feeds.forEach(t => t.dispose());
    }
  }

  private toMaps(
    sumP: ArrayLike<number>,
    sumP2: ArrayLike<number>,
    sumH: ArrayLike<number>,
    height: number,
    width: number,
    T: number
  ): UncertaintyMaps {
    const inv = 1 / T;
    const moments: SampleMoments = {
      width,
      height,
      classes: this.model.classes,
      meanProb: scaled(sumP, inv),
      meanSquareProb: scaled(sumP2, inv),
      meanSampleEntropy: scaled(sumH, inv),
      samples: T
    };
    const maps = mapsFromMoments(moments);
    if (hasNonFinite(maps)) {
      throw new ModelError('nan-output', 'The model produced NaN or infinite probabilities; its weights are probably corrupt');
    }
    return maps;
  }

  dispose(): void {
    // The model belongs to the caller; nothing else holds device memory between runs.
    this.disposed = true;
  }
}
