/**
 * Loading and validating a UGA segmentation model (tfjs LayersModel with
 * `userDefinedMetadata.uga`, see ModelMetadata).
 */
import type * as tfType from '@tensorflow/tfjs';
import { BackendName, startedBackend } from './backends';

export interface ModelClassInfo {
  name: string;
  /** RGB 0-255 used for overlays and exported annotations. */
  color: [number, number, number];
}

export interface ModelNormalization {
  /** x' = (x * scale - mean[c]) / std[c] for 8-bit pixel x of channel c. */
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
}

export interface ModelMetadata {
  formatVersion: number;
  name: string;
  version: string;
  classes: ModelClassInfo[];
  /** Index in `classes` of the structure being segmented (drives scores and the UI). */
  foregroundClass: number;
  /** Micrometres per pixel the model was trained at; undefined = use slide pixels as is. */
  mpp?: number;
  /** Side of the square input patch in pixels. */
  patchSize: number;
  normalization: ModelNormalization;
  /** What the last layer emits; 'logits' get a softmax applied here. */
  output: 'softmax' | 'logits';
}

export type ModelErrorKind =
  'not-found' | 'corrupt' | 'missing-weights' | 'invalid-metadata' | 'invalid-input' | 'invalid-output' | 'nan-output' | 'load-failed';

/** Model problem with a message meant for the user. */
export class ModelError extends Error {
  constructor(
    readonly kind: ModelErrorKind,
    message: string,
    readonly cause?: unknown
  ) {
    super(message);
    this.name = 'ModelError';
  }
}

/** Layer classes that are stochastic in MC dropout (and identity otherwise). */
export const DROPOUT_CLASS_NAMES: ReadonlySet<string> = new Set(['Dropout', 'SpatialDropout1D', 'GaussianDropout', 'AlphaDropout']);

/** A dropout layer that actually drops something (rate in (0,1)). */
export function isActiveDropout(layer: tfType.layers.Layer): boolean {
  if (!DROPOUT_CLASS_NAMES.has(layer.getClassName())) {
    return false;
  }
  const rate = Number((layer.getConfig() as { rate?: unknown }).rate ?? 0);
  return rate > 0 && rate < 1;
}

export class SegmentationModel {
  readonly hasDropout: boolean;
  /** [height, width, 3] */
  readonly inputShape: [number, number, number];

  /** The backend holding the weights; engines run their ops there. */
  readonly backend: BackendName;

  constructor(
    readonly layersModel: tfType.LayersModel,
    readonly metadata: ModelMetadata,
    backend?: BackendName
  ) {
    const b = backend ?? startedBackend();
    if (!b) {
      throw new Error('SegmentationModel: no backend given and none started with initBackend');
    }
    this.backend = b;
    this.inputShape = validateModel(layersModel, metadata);
    this.hasDropout = layersModel.layers.some(isActiveDropout);
  }

  get classes(): number {
    return this.metadata.classes.length;
  }

  dispose(): void {
    this.layersModel.dispose();
  }
}

function isNumberArray(v: unknown, length: number): v is number[] {
  return Array.isArray(v) && v.length === length && v.every(x => typeof x === 'number' && Number.isFinite(x));
}

/** Check and normalise `userDefinedMetadata.uga`; throws ModelError('invalid-metadata'). */
export function parseMetadata(raw: unknown): ModelMetadata {
  const fail = (why: string): never => {
    throw new ModelError('invalid-metadata', `Model metadata (userDefinedMetadata.uga) is invalid: ${why}`);
  };
  if (raw === null || typeof raw !== 'object') {
    return fail('missing; export the model with the UGA metadata block');
  }
  const m = raw as Record<string, unknown>;
  const formatVersion = m.formatVersion ?? 1;
  if (formatVersion !== 1) {
    fail(`formatVersion ${String(formatVersion)} is not supported (expected 1)`);
  }
  if (!Array.isArray(m.classes) || m.classes.length < 2) {
    fail('"classes" must list at least two classes');
  }
  const classes = (m.classes as unknown[]).map((c, i) => {
    const cls = (c ?? {}) as Record<string, unknown>;
    if (typeof cls.name !== 'string' || cls.name.length === 0) {
      fail(`class ${i} has no name`);
    }
    const color = isNumberArray(cls.color, 3) ? (cls.color as [number, number, number]) : fail(`class ${i} needs an RGB "color"`);
    return { name: cls.name as string, color };
  });
  const foregroundClass = m.foregroundClass ?? 1;
  if (
    typeof foregroundClass !== 'number' ||
    !Number.isInteger(foregroundClass) ||
    foregroundClass < 0 ||
    foregroundClass >= classes.length
  ) {
    fail(`foregroundClass ${String(foregroundClass)} is not a class index`);
  }
  const patchSize = m.patchSize;
  if (typeof patchSize !== 'number' || !Number.isInteger(patchSize) || patchSize < 1) {
    fail('"patchSize" must be a positive integer');
  }
  const mpp = m.mpp;
  if (mpp !== undefined && mpp !== null && !(typeof mpp === 'number' && mpp > 0)) {
    fail('"mpp" must be a positive number');
  }
  const n = (m.normalization ?? {}) as Record<string, unknown>;
  const scale = n.scale ?? 1 / 255;
  const mean = n.mean ?? [0, 0, 0];
  const std = n.std ?? [1, 1, 1];
  if (typeof scale !== 'number' || !Number.isFinite(scale) || !isNumberArray(mean, 3) || !isNumberArray(std, 3) || std.some(s => s === 0)) {
    fail('"normalization" needs a number scale and 3-element mean and non-zero std');
  }
  const output = m.output ?? 'softmax';
  if (output !== 'softmax' && output !== 'logits') {
    fail(`"output" must be "softmax" or "logits", got ${String(output)}`);
  }
  return {
    formatVersion: 1,
    name: typeof m.name === 'string' ? m.name : 'model',
    version: m.version === undefined ? '0' : String(m.version),
    classes,
    foregroundClass: foregroundClass as number,
    mpp: typeof mpp === 'number' ? mpp : undefined,
    patchSize: patchSize as number,
    normalization: { scale: scale as number, mean: mean as [number, number, number], std: std as [number, number, number] },
    output: output as 'softmax' | 'logits'
  };
}

/** Checks the graph against the metadata; returns [H, W, 3]. */
export function validateModel(model: tfType.LayersModel, metadata: ModelMetadata): [number, number, number] {
  if (model.inputs.length !== 1) {
    throw new ModelError('invalid-input', `The model must have one image input, it has ${model.inputs.length}`);
  }
  const inShape = model.inputs[0].shape;
  if (inShape.length !== 4 || inShape[3] !== 3) {
    throw new ModelError(
      'invalid-input',
      `The model input must be [N, H, W, 3] (RGB, channels last); it is [${inShape.map(d => (d === null ? 'N' : d)).join(', ')}]`
    );
  }
  const h = inShape[1] ?? metadata.patchSize;
  const w = inShape[2] ?? metadata.patchSize;
  if (h !== metadata.patchSize || w !== metadata.patchSize) {
    throw new ModelError('invalid-input', `The model input is ${h}x${w} but metadata.patchSize is ${metadata.patchSize}`);
  }
  if (model.outputs.length !== 1) {
    throw new ModelError('invalid-output', `The model must have one output, it has ${model.outputs.length}`);
  }
  const outShape = model.outputs[0].shape;
  if (outShape.length !== 4) {
    throw new ModelError('invalid-output', `The model output must be [N, H, W, classes]; it has rank ${outShape.length}`);
  }
  if (outShape[3] !== metadata.classes.length) {
    throw new ModelError(
      'invalid-output',
      `The model outputs ${String(outShape[3])} classes but its metadata lists ${metadata.classes.length} (${metadata.classes.map(c => c.name).join(', ')})`
    );
  }
  if ((outShape[1] !== null && outShape[1] !== h) || (outShape[2] !== null && outShape[2] !== w)) {
    throw new ModelError('invalid-output', `The model output is ${outShape[1]}x${outShape[2]}, not the input size ${h}x${w}`);
  }
  return [h, w, 3];
}

export interface LoadModelOptions {
  fetchFunc?: typeof fetch;
  requestInit?: RequestInit;
  /** Use instead of (or when missing) model.json's userDefinedMetadata.uga. */
  metadata?: unknown;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A model's files, checked, with the weights in one buffer (transferable to a Worker). */
export interface ModelFiles {
  /** model.json's content less the weight manifest. */
  artifacts: tfType.io.ModelArtifacts & { weightData: ArrayBuffer };
  metadata: ModelMetadata;
  /** Hex digest of topology + weights: models are shared by it. */
  hash: string;
}

/**
 * Fetch and check a model's files (model.json URL or any tfjs IOHandler)
 * without building it. Every failure becomes a ModelError whose message says
 * what is wrong with the files.
 */
export async function fetchModelFiles(source: string | tfType.io.IOHandler, options: LoadModelOptions = {}): Promise<ModelFiles> {
  let handler: tfType.io.IOHandler;
  if (typeof source === 'string') {
    // Fetched without tfjs: on the page of a worker engine, tfjs (megabytes of
    // script) never has to load on the main thread just to read files.
    handler = { load: () => loadHttpArtifacts(source, options) };
  } else {
    handler = source;
  }
  // Read the artifacts ourselves first: this separates "bad files" from "bad graph".
  let artifacts: tfType.io.ModelArtifacts;
  try {
    if (!handler.load) {
      throw new Error('the IOHandler cannot load');
    }
    artifacts = await handler.load();
  } catch (err) {
    if (err instanceof ModelError) {
      throw err;
    }
    const message = describe(err);
    if (/status code 404|status code 410/.test(message)) {
      throw new ModelError('not-found', `Model file not found: ${String(source)}`, err);
    }
    if (/parse|JSON/i.test(message)) {
      throw new ModelError('corrupt', `model.json is not valid JSON (${message})`, err);
    }
    throw new ModelError('load-failed', `Could not load the model: ${message}`, err);
  }
  if (!artifacts.modelTopology) {
    throw new ModelError('corrupt', 'model.json has no modelTopology; export a tfjs LayersModel');
  }
  if (!artifacts.weightSpecs || !artifacts.weightData) {
    throw new ModelError('missing-weights', 'model.json lists no weights or the weight data is missing');
  }
  const expectedBytes = artifacts.weightSpecs.reduce((sum, spec) => {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytesPer = spec.quantization
      ? spec.quantization.dtype === 'uint8'
        ? 1
        : 2
      : spec.dtype === 'float32' || spec.dtype === 'int32'
        ? 4
        : 1;
    return sum + count * bytesPer;
  }, 0);
  const weightData = artifacts.weightData;
  const actualBytes = Array.isArray(weightData) ? weightData.reduce((s, b) => s + b.byteLength, 0) : weightData.byteLength;
  if (actualBytes < expectedBytes) {
    throw new ModelError(
      'missing-weights',
      `Weight data is ${actualBytes} bytes but model.json needs ${expectedBytes}: a weight shard is missing or truncated`
    );
  }
  const metadata = parseMetadata(options.metadata ?? (artifacts.userDefinedMetadata as Record<string, unknown> | undefined)?.uga);
  const buffers = Array.isArray(weightData) ? weightData : [weightData];
  const single = buffers.length === 1 ? buffers[0] : concatenateBuffers(buffers);
  const files = { ...artifacts, weightData: single };
  return { artifacts: files, metadata, hash: await digest(JSON.stringify(artifacts.modelTopology), single) };
}

function concatenateBuffers(buffers: ArrayBuffer[]): ArrayBuffer {
  const out = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
  let at = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), at);
    at += b.byteLength;
  }
  return out.buffer;
}

interface ModelJSONFile {
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: tfType.io.WeightsManifestEntry[] }[];
  [key: string]: unknown;
}

/**
 * What `tf.io.http(url).load()` returns, without tfjs: model.json, then its
 * weight shards (URLs relative to model.json's folder, with its query).
 * Failures read like tfjs' own, which fetchModelFiles turns into ModelErrors.
 */
async function loadHttpArtifacts(url: string, options: LoadModelOptions): Promise<tfType.io.ModelArtifacts> {
  const fetchFunc: typeof fetch = options.fetchFunc ?? ((input, init) => fetch(input, init));
  const response = await fetchFunc(url, options.requestInit);
  if (!response.ok) {
    throw new Error(
      `Request to ${url} failed with status code ${response.status}. Please verify this URL points to the model JSON of the model to load.`
    );
  }
  let json: ModelJSONFile;
  try {
    json = (await response.json()) as ModelJSONFile;
  } catch {
    throw new Error(`Failed to parse model JSON of response from ${url}.`);
  }
  if (
    json === null ||
    typeof json !== 'object' ||
    ((json.modelTopology === null || json.modelTopology === undefined) &&
      (json.weightsManifest === null || json.weightsManifest === undefined))
  ) {
    throw new Error(`The JSON from HTTP path ${url} contains neither model topology or manifest for weights.`);
  }
  const artifacts: tfType.io.ModelArtifacts = {
    modelTopology: json.modelTopology as tfType.io.ModelArtifacts['modelTopology'],
    format: json.format as string | undefined,
    generatedBy: json.generatedBy as string | undefined,
    convertedBy: json.convertedBy as string | null | undefined
  };
  for (const key of ['trainingConfig', 'signature', 'userDefinedMetadata', 'modelInitializer', 'initializerSignature'] as const) {
    if (json[key] !== null && json[key] !== undefined) {
      (artifacts as Record<string, unknown>)[key] = json[key];
    }
  }
  if (json.weightsManifest !== null && json.weightsManifest !== undefined) {
    const lastSlash = url.lastIndexOf('/');
    const lastQuery = url.lastIndexOf('?');
    const prefix = url.substring(0, lastSlash) + '/';
    const suffix = lastQuery > lastSlash ? url.substring(lastQuery) : '';
    const groups = Array.isArray(json.weightsManifest) ? json.weightsManifest : [];
    const urls = groups.flatMap(g => (g.paths ?? []).map(p => prefix + p + suffix));
    artifacts.weightSpecs = groups.flatMap(g => g.weights ?? []);
    const responses = await Promise.all(urls.map(u => fetchFunc(u, options.requestInit)));
    // checkedFetch-like: a missing shard is named (tfjs would read its error page as weights).
    responses.forEach((r, i) => {
      if (!r.ok) {
        throw new ModelError(
          'missing-weights',
          `Weight file ${urls[i]} could not be read (HTTP ${r.status}); copy all shards listed in model.json next to it`
        );
      }
    });
    artifacts.weightData = await Promise.all(responses.map(r => r.arrayBuffer()));
  }
  return artifacts;
}

/** SHA-256 where crypto.subtle exists (secure contexts, Node), else FNV-1a 32 (cache key only). */
async function digest(text: string, bytes: ArrayBuffer): Promise<string> {
  const head = new TextEncoder().encode(text);
  const all = new Uint8Array(head.length + bytes.byteLength);
  all.set(head, 0);
  all.set(new Uint8Array(bytes), head.length);
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (subtle) {
    const h = new Uint8Array(await subtle.digest('SHA-256', all));
    return Array.from(h, b => b.toString(16).padStart(2, '0')).join('');
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < all.length; i++) {
    h = Math.imul(h ^ all[i], 0x01000193);
  }
  return 'fnv1a-' + (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Build a checked model on the active tfjs backend (or `backend`, held
 * exclusively while the weights are created, so an engine running on
 * another backend in between cannot pull them over).
 */
export async function buildSegmentationModel(files: ModelFiles, backend?: BackendName): Promise<SegmentationModel> {
  const tf = await import('@tensorflow/tfjs');
  const build = async (): Promise<SegmentationModel> => {
    let layersModel: tfType.LayersModel;
    try {
      let loaded = files.artifacts;
      if (!(loaded.weightData instanceof ArrayBuffer)) {
        // A buffer from another realm (e.g. cloned by a test harness) fails tfjs' instanceof checks.
        const bytes = new Uint8Array(loaded.weightData as ArrayBuffer);
        loaded = { ...loaded, weightData: new Uint8Array(bytes).buffer as ArrayBuffer };
      }
      layersModel = await tf.loadLayersModel({ load: async () => loaded });
    } catch (err) {
      throw new ModelError('corrupt', `model.json describes a network tfjs cannot build: ${describe(err)}`, err);
    }
    try {
      return new SegmentationModel(layersModel, files.metadata, tf.getBackend() as BackendName);
    } catch (err) {
      layersModel.dispose();
      throw err;
    }
  };
  if (!backend) {
    return build();
  }
  const { withBackendExclusive } = await import('./backends');
  return withBackendExclusive(tf, backend, build);
}

/** fetchModelFiles + buildSegmentationModel on the active backend. */
export async function loadSegmentationModel(
  source: string | tfType.io.IOHandler,
  options: LoadModelOptions = {}
): Promise<SegmentationModel> {
  return buildSegmentationModel(await fetchModelFiles(source, options));
}
