/**
 * In-browser fine-tuning of a UGA segmentation model on corrected patches.
 *
 * The recipe follows jupyterlab_uga.finetune (cross-entropy + 0.5 x (1 - soft
 * Dice of the foreground), ignore pixels masked out, AdamW lr 1e-4 with
 * weight decay 1e-4 and cosine decay, batch 8 of random 128 px crops, half of
 * each batch from the replay pool). Dropout is on. BatchNormalization:
 * settings.batchNorm 'update' (default: batch statistics, moving ones
 * updated, as the Python default freeze_bn=False, which measured clearly
 * better in docs/model-card.md and bench/finetune) or 'frozen' (inference
 * mode, moving statistics fixed, gamma/beta train; what the issue asked for). Augmentation: flips and 90-degree rotations (no colour
 * jitter).
 *
 * The forward pass walks the layer graph ourselves (like engine/graph.ts) so
 * that only Dropout is stochastic. Training happens on a fresh copy loaded
 * from the parent's files, so the active model is untouched (and a cancel
 * leaves nothing behind); the result is returned as bytes (model.json +
 * one weight shard) for the caller to write to `models/<version>/` and load
 * back through the engine. Every tensor made here is disposed before return.
 */
import type * as tfType from '@tensorflow/tfjs';
import { IGNORE_LABEL } from '../tokens';
import { loadSegmentationModel, ModelError, SegmentationModel, isActiveDropout } from '../engine/model';
import { planGraph } from '../engine/graph';

/** A model's files: parsed model.json and the concatenated weight shards in manifest order. */
export interface ModelFiles {
  modelJson: ModelJSON;
  weightData: ArrayBuffer;
}

/** The parts of a tfjs model.json we read and write. */
export interface ModelJSON {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: tfType.io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** One training patch: a Correction fits (RGBA image, class mask with 255 = ignore). */
export interface TrainingPatch {
  id?: string;
  /** Edge of the square patch in pixels. */
  patchSize: number;
  /** patchSize^2 * 4 (RGBA) or * 3 (RGB) bytes. */
  image: Uint8Array | Uint8ClampedArray;
  /** patchSize^2 class indices, IGNORE_LABEL = ignore. */
  mask: Uint8Array;
}

export interface FineTuneSettings {
  steps: number;
  lr: number;
  batchSize: number;
  /** Share of each batch drawn from `replay` (0 when there is none). */
  replayRatio: number;
  /** Random square crop edge (rounded down to a multiple of 8); null = whole patches. */
  crop: number | null;
  /** Random flips and 90-degree rotations. */
  flips: boolean;
  weightDecay: number;
  diceWeight: number;
  seed: number;
  /**
   * 'frozen': BatchNormalization in inference mode (moving statistics fixed,
   * gamma/beta train). 'update': batch statistics in the forward pass and
   * the moving statistics updated with PyTorch's momentum 0.1, as
   * jupyterlab_uga.finetune does by default (freeze_bn=False).
   */
  batchNorm: 'frozen' | 'update';
}

/**
 * The Python recipe's values (jupyterlab_uga.finetune defaults), BatchNorm
 * statistics updated included: frozen statistics took mean Dice on the
 * mosaic from 0.890 to 0.828 in 6 steps, updated kept 0.896 (bench/finetune,
 * docs/benchmarks.md).
 */
export const DEFAULT_FINETUNE_SETTINGS: Readonly<FineTuneSettings> = {
  steps: 30,
  lr: 1e-4,
  batchSize: 8,
  replayRatio: 0.5,
  crop: 128,
  flips: true,
  weightDecay: 1e-4,
  diceWeight: 0.5,
  seed: 0,
  batchNorm: 'update'
};

export interface FineTuneProgress {
  step: number;
  steps: number;
  loss: number;
  /** Wall seconds since the first step started. */
  seconds: number;
  /** Estimated seconds left. */
  etaSeconds: number;
}

export interface FineTuneOptions {
  /** The model to fine-tune, as files (see `fetchModelFiles`). */
  parent: ModelFiles;
  /** Corrected patches (all rounds of this slide's folder). */
  patches: readonly TrainingPatch[];
  /** Replay pool mixed into each batch; see `pseudoLabelReplay`. */
  replay?: readonly TrainingPatch[];
  settings?: Partial<FineTuneSettings>;
  /** Name of the new version (the `models/<version>/` folder). */
  version: string;
  /** Hash of the parent model (manifest `model.hash`), recorded in the metadata. */
  parentHash?: string | null;
  signal?: AbortSignal;
  onProgress?: (progress: FineTuneProgress) => void;
  /** Messages for the user (e.g. the WASM -> CPU fallback with the expected time). */
  onWarning?: (message: string) => void;
}

export const WEIGHTS_FILE = 'group1-shard1of1.bin';

export interface FineTuneResult {
  /** File name -> bytes for `models/<version>/`: model.json and WEIGHTS_FILE. */
  files: Record<string, Uint8Array>;
  /** "sha256:..." over model.json then the shard (jupyterlab_uga.export.model_hash). */
  hash: string;
  /** The updated `userDefinedMetadata.uga`. */
  metadata: Record<string, unknown>;
  settings: FineTuneSettings;
  /** Patch ids trained on (those that have one). */
  patchIds: string[];
  losses: number[];
  /** Backend the training ran on. */
  backend: string;
  seconds: number;
}

/** An entry of the manifest's `models[]` (docs/corrections-format.md). */
export interface ModelsEntry {
  version: string;
  path: string;
  hash: string;
  parentHash: string | null;
  created: string;
  patches: string[];
  settings: Record<string, unknown>;
  dice?: { before?: DiceRecord; after?: DiceRecord };
}

export interface DiceRecord {
  /** Class name -> Dice (null when the class is absent from prediction and truth). */
  perClass: Record<string, number | null>;
  mean: number | null;
  pixels: number;
}

export class FineTuneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FineTuneError';
  }
}

function abortError(): Error {
  const err = new Error('Fine-tuning was cancelled');
  err.name = 'AbortError';
  return err;
}

function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkPatch(p: TrainingPatch, what: string, classes: number): number {
  const n = p.patchSize * p.patchSize;
  if (!Number.isInteger(p.patchSize) || p.patchSize < 1) {
    throw new FineTuneError(`${what}: patchSize ${p.patchSize} is not a positive integer`);
  }
  if (p.mask.length !== n) {
    throw new FineTuneError(`${what}: the mask has ${p.mask.length} pixels, expected ${n}`);
  }
  const channels = p.image.length / n;
  if (channels !== 3 && channels !== 4) {
    throw new FineTuneError(`${what}: the image has ${p.image.length} bytes, expected ${n * 4} (RGBA) or ${n * 3} (RGB)`);
  }
  for (let i = 0; i < n; i++) {
    const v = p.mask[i];
    if (v !== IGNORE_LABEL && v >= classes) {
      throw new FineTuneError(`${what}: mask value ${v} is not a class of this model (0..${classes - 1}, ${IGNORE_LABEL} = ignore)`);
    }
  }
  return channels;
}

/**
 * Fill one batch row: crop at (oy, ox), then flip / rotate (k quarter turns),
 * normalise like the engine does.
 */
function fillRow(
  p: TrainingPatch,
  channels: number,
  crop: number,
  oy: number,
  ox: number,
  flip: boolean,
  k: number,
  norm: { scale: number; mean: number[]; std: number[] },
  x: Float32Array,
  y: Int32Array,
  w: Float32Array,
  rowOffset: number
): void {
  const size = p.patchSize;
  for (let r = 0; r < crop; r++) {
    for (let c = 0; c < crop; c++) {
      // Output (r, c) reads source (sr, sc) of the crop: rotate k times, then flip.
      let sr = r;
      let sc = flip ? crop - 1 - c : c;
      for (let t = 0; t < k; t++) {
        const tmp = sr;
        sr = sc;
        sc = crop - 1 - tmp;
      }
      const src = (oy + sr) * size + ox + sc;
      const dst = rowOffset + r * crop + c;
      for (let ch = 0; ch < 3; ch++) {
        x[dst * 3 + ch] = (p.image[src * channels + ch] * norm.scale - norm.mean[ch]) / norm.std[ch];
      }
      const label = p.mask[src];
      const ignore = label === IGNORE_LABEL;
      y[dst] = ignore ? 0 : label;
      w[dst] = ignore ? 0 : 1;
    }
  }
}

/** Concatenated bytes of a tfjs weightData (one buffer or several). */
function weightBytes(data: tfType.io.WeightData): Uint8Array {
  const buffers = Array.isArray(data) ? data : [data];
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

function specBytes(spec: tfType.io.WeightsManifestEntry): number {
  if (spec.quantization || (spec.dtype !== undefined && spec.dtype !== 'float32')) {
    throw new FineTuneError(`weight ${spec.name}: only unquantized float32 weights can be fine-tuned`);
  }
  return spec.shape.reduce((a, b) => a * b, 1) * 4;
}

/** sha256 of the parts in order, as "sha256:<hex>" (WebCrypto). */
export async function sha256Of(parts: Uint8Array[]): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new FineTuneError('WebCrypto (crypto.subtle) is not available: open JupyterLab over https or on localhost to hash the new model');
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const digest = new Uint8Array(await subtle.digest('SHA-256', all));
  return 'sha256:' + Array.from(digest, b => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Read a model's files from its model.json URL (shards resolved next to it).
 * `fetchFunc`: the panel's authenticated serverFetch.
 */
export async function fetchModelFiles(url: string, fetchFunc: typeof fetch = fetch): Promise<ModelFiles> {
  const get = async (u: string): Promise<Response> => {
    const r = await fetchFunc(u);
    if (!r.ok) {
      throw new ModelError(r.status === 404 ? 'not-found' : 'load-failed', `Could not read ${u} (HTTP ${r.status})`);
    }
    return r;
  };
  let modelJson: ModelJSON;
  try {
    modelJson = JSON.parse(await (await get(url)).text()) as ModelJSON;
  } catch (err) {
    if (err instanceof ModelError) {
      throw err;
    }
    throw new ModelError('corrupt', `model.json is not valid JSON (${(err as Error).message})`, err);
  }
  if (!Array.isArray(modelJson.weightsManifest)) {
    throw new ModelError('corrupt', 'model.json has no weightsManifest: not a tfjs LayersModel');
  }
  const base = url.slice(0, url.lastIndexOf('/') + 1);
  const shards: Uint8Array[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const p of group.paths) {
      shards.push(new Uint8Array(await (await get(base + p)).arrayBuffer()));
    }
  }
  const all = weightBytes(shards.map(s => s.slice().buffer as ArrayBuffer));
  return { modelJson, weightData: all.buffer as ArrayBuffer };
}

/** Model files for a tfjs IOHandler (to load them with the engine's loadSegmentationModel). */
export function filesHandler(files: ModelFiles | Record<string, Uint8Array>): tfType.io.IOHandler {
  let mf: ModelFiles;
  if ('modelJson' in files && 'weightData' in files && !(files.modelJson instanceof Uint8Array)) {
    mf = files as ModelFiles;
  } else {
    const raw = files as Record<string, Uint8Array>;
    if (!raw['model.json']) {
      throw new ModelError('not-found', 'model.json is missing');
    }
    const modelJson = JSON.parse(new TextDecoder().decode(raw['model.json'])) as ModelJSON;
    const parts = modelJson.weightsManifest
      .flatMap(g => g.paths)
      .map(p => {
        const b = raw[p];
        if (!b) {
          throw new ModelError('missing-weights', `weight file ${p} is missing`);
        }
        return b.slice().buffer as ArrayBuffer;
      });
    mf = { modelJson, weightData: weightBytes(parts).buffer as ArrayBuffer };
  }
  return {
    load: async () => ({
      modelTopology: mf.modelJson.modelTopology as tfType.io.ModelArtifacts['modelTopology'],
      weightSpecs: mf.modelJson.weightsManifest.flatMap(g => g.weights),
      weightData: mf.weightData,
      format: mf.modelJson.format,
      generatedBy: mf.modelJson.generatedBy,
      convertedBy: mf.modelJson.convertedBy ?? undefined,
      userDefinedMetadata: mf.modelJson.userDefinedMetadata as tfType.io.ModelArtifacts['userDefinedMetadata']
    })
  };
}

interface ConvLayerInternals {
  kernel?: { read(): tfType.Tensor };
  bias?: { read(): tfType.Tensor } | null;
}

/**
 * Conv2D (stride 1, no dilation, channels last) whose filter gradient is
 * one matrix product of the im2col of x (built in JS) with dy: tfjs-backend-cpu's
 * Conv2DBackpropFilter is a naive loop (9 s of a 9.5 s step on the default
 * model, 2 x 16 x 16 px), the matmuls take a fraction of that.
 */
function matmulConv2d(tf: typeof tfType, x: tfType.Tensor4D, w: tfType.Tensor4D, padding: 'same' | 'valid'): tfType.Tensor4D {
  const [kh, kw] = w.shape;
  // customGrad's inputs are gone by backprop time: keep them through save().
  const f = tf.customGrad(((xIn: tfType.Tensor4D, wIn: tfType.Tensor4D, save: tfType.GradSaveFunc) => {
    save([xIn, wIn]);
    const value = tf.conv2d(xIn, wIn, 1, padding);
    return {
      value,
      gradFunc: (dy: tfType.Tensor | tfType.Tensor[], saved: tfType.Tensor[]) => {
        const [xi, wi] = saved as [tfType.Tensor4D, tfType.Tensor4D];
        const g = dy as tfType.Tensor4D;
        const dx = tf.conv2dTranspose(g, wi, xi.shape, 1, padding);
        const [n, ho, wo, co] = g.shape;
        const ci = xi.shape[3];
        const pt = padding === 'same' ? Math.floor((kh - 1) / 2) : 0;
        const pl = padding === 'same' ? Math.floor((kw - 1) / 2) : 0;
        // im2col on the host (this path runs on the cpu backend only): tfjs' cpu Slice is slow.
        const src = xi.dataSync() as Float32Array;
        const [, hi, wiDim] = xi.shape;
        const cols = new Float32Array(n * ho * wo * kh * kw * ci);
        let o = 0;
        for (let b = 0; b < n; b++) {
          for (let r = 0; r < ho; r++) {
            for (let c = 0; c < wo; c++) {
              for (let i = 0; i < kh; i++) {
                const sr = r + i - pt;
                for (let j = 0; j < kw; j++) {
                  const sc = c + j - pl;
                  if (sr < 0 || sr >= hi || sc < 0 || sc >= wiDim) {
                    o += ci;
                    continue;
                  }
                  const base = ((b * hi + sr) * wiDim + sc) * ci;
                  for (let k = 0; k < ci; k++) {
                    cols[o++] = src[base + k];
                  }
                }
              }
            }
          }
        }
        const g2 = tf.reshape(g, [n * ho * wo, co]);
        const dw = tf.reshape(tf.matMul(tf.tensor2d(cols, [n * ho * wo, kh * kw * ci]), g2, true, false), [kh, kw, ci, co]);
        return [dx, dw];
      }
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, w) as tfType.Tensor4D;
}

/** The matmul convolution for a plain Conv2D layer, or null when it does not apply. */
function fastConv(tf: typeof tfType, layer: tfType.layers.Layer, x: tfType.Tensor): tfType.Tensor | null {
  if (layer.getClassName() !== 'Conv2D') {
    return null;
  }
  const cfg = layer.getConfig() as {
    strides?: number[];
    dilationRate?: number | number[];
    padding?: string;
    dataFormat?: string;
    activation?: string;
  };
  const ones = (v: unknown) => (Array.isArray(v) ? v.every(d => d === 1) : v === undefined || v === 1);
  const act = cfg.activation ?? 'linear';
  const internals = layer as unknown as ConvLayerInternals;
  if (
    !ones(cfg.strides) ||
    !ones(cfg.dilationRate) ||
    cfg.dataFormat === 'channelsFirst' ||
    !['same', 'valid'].includes(cfg.padding ?? '') ||
    !['linear', 'relu', 'softmax'].includes(act) ||
    !internals.kernel
  ) {
    return null;
  }
  let y: tfType.Tensor = matmulConv2d(
    tf,
    x as tfType.Tensor4D,
    internals.kernel.read() as tfType.Tensor4D,
    cfg.padding as 'same' | 'valid'
  );
  if (internals.bias) {
    y = tf.add(y, internals.bias.read());
  }
  return act === 'relu' ? tf.relu(y) : act === 'softmax' ? tf.softmax(y) : y;
}

interface BatchNormInternals {
  gamma?: { read(): tfType.Tensor } | null;
  beta?: { read(): tfType.Tensor } | null;
  movingMean: { read(): tfType.Variable };
  movingVariance: { read(): tfType.Variable };
}

/**
 * BatchNormalization with the batch's statistics (channels last), updating
 * the moving ones like torch.nn.BatchNorm2d in train mode: momentum 0.1 on
 * the new value, unbiased variance for the running estimate. Null when the
 * layer is not channels-last.
 */
function batchStatsNorm(tf: typeof tfType, layer: tfType.layers.Layer, x: tfType.Tensor): tfType.Tensor | null {
  const cfg = layer.getConfig() as { axis?: number | number[]; epsilon?: number };
  if (![-1, 3].includes(Number(cfg.axis ?? -1)) || x.rank !== 4) {
    return null;
  }
  const w = layer as unknown as BatchNormInternals;
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  const y = tf.batchNorm(x, mean, variance, w.beta?.read(), w.gamma?.read(), cfg.epsilon ?? 1e-3);
  const [b, h, wd] = x.shape as number[];
  const n = b * h * wd;
  const m = 0.1;
  const mm = w.movingMean.read();
  const mv = w.movingVariance.read();
  // Statistics are not part of the gradient; the assignments run once per step.
  tf.tidy(() => {
    mm.assign(tf.add(tf.mul(mm, 1 - m), tf.mul(mean, m)));
    mv.assign(tf.add(tf.mul(mv, 1 - m), tf.mul(variance, (m * n) / Math.max(1, n - 1))));
  });
  return y;
}

/**
 * The forward pass for training: every layer in inference mode except
 * Dropout, which drops with a fresh seed per call. Returns logits: the
 * input of a final softmax Activation, else log of the probabilities.
 */
export function trainingForward(
  tf: typeof tfType,
  model: SegmentationModel,
  x: tfType.Tensor4D,
  nextSeed: () => number,
  matmulConvs = tf.getBackend() === 'cpu',
  batchNorm: 'frozen' | 'update' = 'frozen'
): tfType.Tensor4D {
  const lm = model.layersModel;
  const nodes = planGraph(lm, false).nodes;
  const values = new Map<number, tfType.Tensor>([[lm.inputs[0].id, x]]);
  const outputId = lm.outputs[0].id;
  const last = nodes[nodes.length - 1];
  const softmaxHead =
    model.metadata.output === 'softmax' &&
    last.outputTensors[0].id === outputId &&
    last.outboundLayer.getClassName() === 'Activation' &&
    (last.outboundLayer.getConfig() as { activation?: string }).activation === 'softmax';
  for (const node of nodes) {
    if (softmaxHead && node === last) {
      break;
    }
    const inputs = node.inputTensors.map(t => {
      const v = values.get(t.id);
      if (!v) {
        throw new FineTuneError(`an input of layer ${node.outboundLayer.name} was not computed`);
      }
      return v;
    });
    const layer = node.outboundLayer;
    let out: tfType.Tensor | tfType.Tensor[];
    const bn = batchNorm === 'update' && layer.getClassName() === 'BatchNormalization' ? batchStatsNorm(tf, layer, inputs[0]) : null;
    if (bn) {
      out = bn;
    } else if (isActiveDropout(layer)) {
      const cfg = layer.getConfig() as { rate: number };
      out =
        layer.getClassName() === 'Dropout'
          ? tf.dropout(inputs[0], cfg.rate, undefined, nextSeed())
          : (layer.call(inputs[0], { training: true }) as tfType.Tensor);
    } else {
      out =
        (matmulConvs && inputs.length === 1 ? fastConv(tf, layer, inputs[0]) : null) ??
        (layer.call(inputs.length === 1 ? inputs[0] : inputs, { training: false }) as tfType.Tensor | tfType.Tensor[]);
    }
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((t, i) => values.set(t.id, outs[i]));
  }
  if (softmaxHead) {
    return values.get(last.inputTensors[0].id) as tfType.Tensor4D;
  }
  const y = values.get(outputId) as tfType.Tensor4D;
  return model.metadata.output === 'logits' ? y : tf.log(tf.clipByValue(y, 1e-7, 1));
}

/** CE over valid pixels + diceWeight x (1 - soft Dice of the foreground), as jupyterlab_uga.train.segmentation_loss. */
function segmentationLoss(
  tf: typeof tfType,
  logits: tfType.Tensor4D,
  labels: tfType.Tensor3D,
  valid: tfType.Tensor3D,
  classes: number,
  foreground: number,
  diceWeight: number
): tfType.Scalar {
  const logp = tf.logSoftmax(logits);
  const onehot = tf.oneHot(labels, classes);
  const nll = tf.neg(tf.sum(tf.mul(logp, onehot), -1));
  const count = tf.maximum(tf.sum(valid), 1);
  const ce = tf.div(tf.sum(tf.mul(nll, valid)), count) as tfType.Scalar;
  if (diceWeight <= 0) {
    return ce;
  }
  const probs = tf.mul(tf.squeeze(tf.slice(tf.softmax(logits), [0, 0, 0, foreground], [-1, -1, -1, 1]), [3]), valid);
  const fg = tf.mul(tf.cast(tf.equal(labels, foreground), 'float32'), valid);
  const dice = tf.div(tf.add(tf.mul(2, tf.sum(tf.mul(probs, fg))), 1), tf.add(tf.add(tf.sum(probs), tf.sum(fg)), 1));
  return tf.add(ce, tf.mul(diceWeight, tf.sub(1, dice))) as tfType.Scalar;
}

const yieldToUI = (): Promise<void> => new Promise(resolve => setTimeout(resolve, 0));

/**
 * Fine-tune `parent` on `patches` (+ `replay`). Resolves with the new model's
 * files; rejects with an AbortError when `signal` aborts, a FineTuneError or
 * ModelError for bad input. On 'wasm' (which cannot train convolutions) it
 * switches tfjs to 'cpu' for the run and back afterwards.
 */
export async function fineTune(options: FineTuneOptions): Promise<FineTuneResult> {
  const tf = await import('@tensorflow/tfjs');
  const settings: FineTuneSettings = { ...DEFAULT_FINETUNE_SETTINGS, ...(options.settings ?? {}) };
  const { signal } = options;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(options.version)) {
    throw new FineTuneError(`"${options.version}" is not a valid model version name (letters, digits, _ . -)`);
  }
  if (!Number.isInteger(settings.steps) || settings.steps < 1 || !Number.isInteger(settings.batchSize) || settings.batchSize < 1) {
    throw new FineTuneError('steps and batchSize must be positive integers');
  }
  if (!(settings.lr > 0) || !(settings.replayRatio >= 0 && settings.replayRatio < 1)) {
    throw new FineTuneError('lr must be positive and replayRatio in [0, 1)');
  }
  if (options.patches.length === 0) {
    throw new FineTuneError('There are no corrected patches to fine-tune on: correct at least one patch first');
  }
  if (signal?.aborted) {
    throw abortError();
  }
  const t0 = Date.now();
  const previousBackend = tf.getBackend();
  let backend = previousBackend;
  if (previousBackend === 'wasm') {
    if (!(await tf.setBackend('cpu'))) {
      throw new FineTuneError('WASM cannot train convolutions and the CPU backend failed to start');
    }
    backend = 'cpu';
  }
  let model: SegmentationModel | null = null;
  let optimizer: tfType.Optimizer | null = null;
  try {
    model = await loadSegmentationModel(filesHandler(options.parent));
    const meta = model.metadata;
    const classes = meta.classes.length;
    const channels = options.patches.map((p, i) => checkPatch(p, `patch ${p.id ?? i}`, classes));
    const replay = options.replay ?? [];
    const replayChannels = replay.map((p, i) => checkPatch(p, `replay patch ${p.id ?? i}`, classes));
    // A fixed-size input dictates the crop; a fully convolutional one takes multiples of 8 (three poolings).
    const fixed = model.layersModel.inputs[0].shape[1];
    const smallest = Math.min(...options.patches.map(p => p.patchSize), ...replay.map(p => p.patchSize));
    let crop: number;
    if (fixed !== null && fixed !== undefined) {
      if (smallest < fixed) {
        throw new FineTuneError(`patches of ${smallest} px are smaller than the model input (${fixed} px)`);
      }
      crop = fixed;
    } else {
      crop = Math.min(settings.crop ?? smallest, smallest);
      crop -= crop % 8;
      if (crop < 8) {
        throw new FineTuneError(`patches of ${smallest} px are too small to train on`);
      }
    }
    const nReplay = replay.length > 0 ? Math.round(settings.batchSize * settings.replayRatio) : 0;
    const nCorrected = Math.max(1, settings.batchSize - nReplay);
    const rows = nCorrected + nReplay;
    const rand = seededRandom(settings.seed);
    let seedCounter = Math.floor(rand() * 2 ** 30);
    const nextSeed = () => seedCounter++;
    const vars = model.layersModel.trainableWeights.map(w => w.read() as tfType.Variable);
    optimizer = tf.train.adam(settings.lr);
    const adamLr = optimizer as unknown as { learningRate: number };
    const losses: number[] = [];
    const plane = crop * crop;
    const xData = new Float32Array(rows * plane * 3);
    const yData = new Int32Array(rows * plane);
    const wData = new Float32Array(rows * plane);
    for (let step = 0; step < settings.steps; step++) {
      if (signal?.aborted) {
        throw abortError();
      }
      for (let r = 0; r < rows; r++) {
        const fromReplay = r >= nCorrected;
        const pool = fromReplay ? replay : options.patches;
        const idx = Math.floor(rand() * pool.length);
        const p = pool[idx];
        const oy = Math.floor(rand() * (p.patchSize - crop + 1));
        const ox = Math.floor(rand() * (p.patchSize - crop + 1));
        const flip = settings.flips && rand() < 0.5;
        const k = settings.flips ? Math.floor(rand() * 4) : 0;
        fillRow(
          p,
          (fromReplay ? replayChannels : channels)[idx],
          crop,
          oy,
          ox,
          flip,
          k,
          meta.normalization,
          xData,
          yData,
          wData,
          r * plane
        );
      }
      // Cosine decay as torch's CosineAnnealingLR (lr at step t), decoupled weight decay as AdamW.
      const lr = (settings.lr * (1 + Math.cos((Math.PI * step) / settings.steps))) / 2;
      adamLr.learningRate = lr;
      const lossTensor = tf.tidy(() => {
        const x = tf.tensor4d(xData, [rows, crop, crop, 3]);
        const y = tf.tensor3d(yData, [rows, crop, crop], 'int32');
        const w = tf.tensor3d(wData, [rows, crop, crop]);
        if (settings.weightDecay > 0) {
          for (const v of vars) {
            v.assign(tf.mul(v, 1 - lr * settings.weightDecay));
          }
        }
        const m = model!;
        return optimizer!.minimize(
          () =>
            segmentationLoss(
              tf,
              trainingForward(tf, m, x, nextSeed, undefined, settings.batchNorm),
              y,
              w,
              classes,
              meta.foregroundClass,
              settings.diceWeight
            ),
          true,
          vars
        ) as tfType.Scalar;
      });
      const loss = (await lossTensor.data())[0];
      lossTensor.dispose();
      if (!Number.isFinite(loss)) {
        throw new FineTuneError(`the loss became ${loss} at step ${step + 1}: lower the learning rate`);
      }
      losses.push(loss);
      const seconds = (Date.now() - t0) / 1000;
      const eta = (seconds / (step + 1)) * (settings.steps - step - 1);
      if (step === 0 && previousBackend === 'wasm') {
        options.onWarning?.(
          `WASM cannot train convolutions, so fine-tuning runs on the slower CPU backend: the first step took ${seconds.toFixed(1)} s, about ${Math.ceil((seconds * settings.steps) / 60)} min for ${settings.steps} steps.`
        );
      }
      options.onProgress?.({ step: step + 1, steps: settings.steps, loss, seconds, etaSeconds: eta });
      await yieldToUI();
    }
    if (signal?.aborted) {
      throw abortError();
    }
    return await serialise(tf, model, options, settings, losses, backend, t0);
  } finally {
    optimizer?.dispose();
    model?.dispose();
    if (previousBackend === 'wasm') {
      await tf.setBackend('wasm');
    }
  }
}

async function serialise(
  tf: typeof tfType,
  model: SegmentationModel,
  options: FineTuneOptions,
  settings: FineTuneSettings,
  losses: number[],
  backend: string,
  t0: number
): Promise<FineTuneResult> {
  let artifacts: tfType.io.ModelArtifacts | null = null;
  await model.layersModel.save(
    tf.io.withSaveHandler(async a => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    })
  );
  const saved = artifacts as tfType.io.ModelArtifacts | null;
  if (!saved?.weightSpecs || !saved.weightData) {
    throw new FineTuneError('tfjs returned no weights when saving the model');
  }
  // Name -> bytes of the trained weights.
  const trained = weightBytes(saved.weightData);
  const byName = new Map<string, Uint8Array>();
  let offset = 0;
  for (const spec of saved.weightSpecs) {
    const n = specBytes(spec);
    byName.set(spec.name, trained.subarray(offset, offset + n));
    offset += n;
  }
  // Keep the parent's topology and weight order byte for byte (the Python
  // loader compares the topology layer by layer); only the values change.
  const parent = options.parent.modelJson;
  const specs = parent.weightsManifest.flatMap(g => g.weights);
  const shard = new Uint8Array(specs.reduce((n, s) => n + specBytes(s), 0));
  offset = 0;
  for (const spec of specs) {
    const bytes = byName.get(spec.name);
    if (!bytes || bytes.length !== specBytes(spec)) {
      throw new FineTuneError(`weight ${spec.name} of model.json was not found in the trained model`);
    }
    shard.set(bytes, offset);
    offset += bytes.length;
  }
  const parentUga = ((parent.userDefinedMetadata ?? {}).uga ?? {}) as Record<string, unknown>;
  const patchIds = options.patches.map(p => p.id).filter((id): id is string => typeof id === 'string');
  const recorded = { ...settings, replayPatches: options.replay?.length ?? 0, freezeBn: settings.batchNorm === 'frozen', backend };
  const uga: Record<string, unknown> = {
    ...parentUga,
    version: `${String(parentUga.version ?? '1')}+ft${options.version}`,
    parentModelHash: options.parentHash ?? null,
    finetune: { ...recorded, patches: options.patches.length, patchIds, by: 'jupyterlab-uga (tfjs)' }
  };
  const modelJson: ModelJSON = {
    ...parent,
    generatedBy: `tfjs ${tf.version.tfjs}`,
    convertedBy: 'jupyterlab-uga fine-tuning',
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: specs }],
    userDefinedMetadata: { ...(parent.userDefinedMetadata ?? {}), uga }
  };
  const jsonBytes = new TextEncoder().encode(JSON.stringify(modelJson));
  return {
    files: { 'model.json': jsonBytes, [WEIGHTS_FILE]: shard },
    hash: await sha256Of([jsonBytes, shard]),
    metadata: uga,
    settings,
    patchIds,
    losses,
    backend,
    seconds: (Date.now() - t0) / 1000
  };
}

/**
 * The manifest `models[]` entry for a result, to hand to the workspace's
 * recordModel. `path` is relative to the `.uga` folder.
 */
export function modelsEntry(
  result: FineTuneResult,
  version: string,
  parentHash: string | null,
  extra: { dice?: { before?: DiceRecord; after?: DiceRecord }; created?: Date } = {}
): ModelsEntry {
  const s = result.settings;
  const entry: ModelsEntry = {
    version,
    path: `models/${version}`,
    hash: result.hash,
    parentHash,
    created: (extra.created ?? new Date()).toISOString(),
    patches: result.patchIds,
    settings: {
      steps: s.steps,
      lr: s.lr,
      replay_ratio: s.replayRatio,
      batch_size: s.batchSize,
      crop: s.crop,
      freeze_bn: s.batchNorm === 'frozen',
      seed: s.seed,
      flips: s.flips,
      weight_decay: s.weightDecay,
      replay_patches: (result.metadata.finetune as { replayPatches?: number } | undefined)?.replayPatches ?? 0,
      backend: result.backend,
      seconds: Math.round(result.seconds * 10) / 10,
      final_loss: result.losses[result.losses.length - 1] ?? null
    }
  };
  if (extra.dice) {
    entry.dice = extra.dice;
  }
  return entry;
}

/** Pixel labels from class probabilities [n, classes]: argmax where max >= minConfidence, else IGNORE_LABEL. */
export function confidentLabels(probs: Float32Array, classes: number, minConfidence: number): Uint8Array {
  const n = probs.length / classes;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestP = probs[i * classes];
    for (let c = 1; c < classes; c++) {
      const p = probs[i * classes + c];
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    out[i] = bestP >= minConfidence ? best : IGNORE_LABEL;
  }
  return out;
}

/**
 * Replay patches labelled by the model itself: its deterministic prediction
 * (dropout off) where it is confident, ignore elsewhere. Use patches of the
 * slide that were not corrected (e.g. lower-ranked suggestions), so a round
 * keeps what the model already gets right on this slide. Run it with the
 * model before fine-tuning.
 */
export async function pseudoLabelReplay(
  model: SegmentationModel,
  patches: readonly Omit<TrainingPatch, 'mask'>[],
  options: { minConfidence?: number } = {}
): Promise<TrainingPatch[]> {
  const tf = await import('@tensorflow/tfjs');
  const minConfidence = options.minConfidence ?? 0.9;
  const out: TrainingPatch[] = [];
  const norm = model.metadata.normalization;
  for (const p of patches) {
    const n = p.patchSize * p.patchSize;
    const channels = p.image.length / n;
    if (channels !== 3 && channels !== 4) {
      throw new FineTuneError(`replay patch ${p.id ?? ''}: the image has ${p.image.length} bytes for ${p.patchSize} px`);
    }
    const x = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        x[i * 3 + c] = (p.image[i * channels + c] * norm.scale - norm.mean[c]) / norm.std[c];
      }
    }
    const probs = tf.tidy(() => {
      let y = model.layersModel.predict(tf.tensor4d(x, [1, p.patchSize, p.patchSize, 3])) as tfType.Tensor;
      if (model.metadata.output === 'logits') {
        y = tf.softmax(y);
      }
      return y;
    });
    const data = (await probs.data()) as Float32Array;
    probs.dispose();
    out.push({ id: p.id, patchSize: p.patchSize, image: p.image, mask: confidentLabels(data, model.classes, minConfidence) });
    await yieldToUI();
  }
  return out;
}
