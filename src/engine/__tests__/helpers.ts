/**
 * Test fixtures: tiny U-Nets built with tfjs layers (same layer types as the
 * exported default model), serialised to in-memory model.json + shard, and an
 * in-memory SlideSource.
 */
import * as tf from '@tensorflow/tfjs';
import type { LevelRect, RegionPixels, SlideInfo, SlideSource } from '../../slide/types';

export interface TinyNetOptions {
  size?: number;
  classes?: number;
  dropoutRate?: number;
  /** Put Dropout only late (decoder) or also at the bottleneck. */
  dropoutAt?: 'bottleneck' | 'decoder' | 'none';
  inputChannels?: number;
  seed?: number;
  /** Activation of the 1x1 head; 'linear' makes a logits model. */
  headActivation?: 'softmax' | 'linear';
}

/** A small U-Net: conv-BN-relu, pool, conv, [dropout], upsample, concat, conv, [dropout], 1x1 softmax. */
export function tinyUnet(options: TinyNetOptions = {}): tf.LayersModel {
  const size = options.size ?? 8;
  const classes = options.classes ?? 2;
  const rate = options.dropoutRate ?? 0.5;
  const at = options.dropoutAt ?? 'bottleneck';
  const seed = options.seed ?? 1;
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed + k });
  const input = tf.input({ shape: [size, size, options.inputChannels ?? 3], name: 'image' });
  let x = tf.layers
    .conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: init(1), name: 'enc_conv' })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'enc_bn' }).apply(x) as tf.SymbolicTensor;
  const skip = tf.layers.activation({ activation: 'relu', name: 'enc_relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(skip) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2), name: 'mid_conv' })
    .apply(x) as tf.SymbolicTensor;
  if (at === 'bottleneck') {
    x = tf.layers.dropout({ rate, name: 'mid_dropout' }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.upSampling2d({ size: [2, 2], name: 'up' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.concatenate({ name: 'concat' }).apply([x, skip]) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: init(3), name: 'dec_conv' })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'dec_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'dec_relu' }).apply(x) as tf.SymbolicTensor;
  if (at !== 'none') {
    x = tf.layers.dropout({ rate, name: 'dec_dropout' }).apply(x) as tf.SymbolicTensor;
  }
  const out = tf.layers
    .conv2d({ filters: classes, kernelSize: 1, activation: options.headActivation ?? 'softmax', kernelInitializer: init(4), name: 'head' })
    .apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'tiny_unet' });
  // Non-trivial BN statistics: a model run with BN in training mode gives different numbers.
  for (const name of ['enc_bn', 'dec_bn']) {
    const bn = model.getLayer(name);
    // getWeights returns the variables themselves: read the size, never dispose them.
    const n = bn.getWeights()[0].shape[0];
    tf.tidy(() =>
      bn.setWeights([
        tf.tensor1d(Array.from({ length: n }, (_, i) => 1 + 0.3 * i)),
        tf.tensor1d(Array.from({ length: n }, (_, i) => 0.1 * (i - 1))),
        tf.tensor1d(Array.from({ length: n }, (_, i) => 0.2 * (i + 1))),
        tf.tensor1d(Array.from({ length: n }, (_, i) => 0.5 + 0.25 * i))
      ])
    );
  }
  return model;
}

export function metadataFor(size: number, classes = 2, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    formatVersion: 1,
    name: 'tiny',
    version: '1',
    classes: Array.from({ length: classes }, (_, i) => ({ name: i === 0 ? 'Background' : `Class${i}`, color: [i * 50, 0, 0] })),
    foregroundClass: 1,
    mpp: 0.5,
    patchSize: size,
    normalization: { scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    output: 'softmax',
    ...extra
  };
}

export interface SavedModel {
  modelJson: string;
  shard: Uint8Array;
}

/** tfjs' own serialisation of a model, as model.json text + one weight shard. */
export async function saveModel(model: tf.LayersModel, metadata: Record<string, unknown> | null): Promise<SavedModel> {
  let saved: SavedModel | null = null;
  await model.save(
    tf.io.withSaveHandler(async artifacts => {
      const data = artifacts.weightData as ArrayBuffer;
      const json = {
        format: 'layers-model',
        generatedBy: 'test',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: artifacts.weightSpecs }],
        ...(metadata ? { userDefinedMetadata: { uga: metadata } } : {})
      };
      saved = { modelJson: JSON.stringify(json), shard: new Uint8Array(data.slice(0)) };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    })
  );
  return saved!;
}

/**
 * A fetch over an in-memory folder: file name -> bytes or text; anything else
 * is a 404. It answers with a minimal Response-like object rather than Node's
 * Response because jest runs tests in another realm: Node's ArrayBuffers fail
 * tfjs' `instanceof ArrayBuffer` checks there (browsers have one realm).
 */
export function memoryFetch(files: Record<string, string | Uint8Array>): typeof fetch {
  return (async (input: RequestInfo | URL) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const name = url.replace(/^.*\//, '');
    const body = files[name];
    const bytes =
      body === undefined ? new TextEncoder().encode('not found') : typeof body === 'string' ? new TextEncoder().encode(body) : body;
    const text = () => new TextDecoder().decode(bytes);
    return {
      ok: body !== undefined,
      status: body === undefined ? 404 : 200,
      statusText: body === undefined ? 'Not Found' : 'OK',
      url,
      headers: { get: () => null },
      text: async () => text(),
      json: async () => JSON.parse(text()),
      arrayBuffer: async () => {
        const copy = new ArrayBuffer(bytes.byteLength);
        new Uint8Array(copy).set(bytes);
        return copy;
      }
    } as unknown as Response;
  }) as typeof fetch;
}

/** Deterministic pseudo-random RGBA patches (tissue-like colours). */
export function randomPatches(
  n: number,
  size: number,
  seed = 7
): { width: number; height: number; channels: 4; data: Uint8ClampedArray }[] {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  return Array.from({ length: n }, () => {
    const data = new Uint8ClampedArray(size * size * 4);
    for (let i = 0; i < size * size; i++) {
      data[i * 4] = 120 + Math.floor(next() * 120);
      data[i * 4 + 1] = 40 + Math.floor(next() * 120);
      data[i * 4 + 2] = 100 + Math.floor(next() * 120);
      data[i * 4 + 3] = 255;
    }
    return { width: size, height: size, channels: 4 as const, data };
  });
}

/**
 * In-memory slide: level 0 is given as RGBA; further levels are 2x box
 * downsamples. Outside the image reads transparent white, like the readers.
 */
export class MemorySlide implements SlideSource {
  readonly info: SlideInfo;
  bytesRead = 0;
  readonly reads: LevelRect[] = [];
  private readonly pixels: Uint8ClampedArray[] = [];

  constructor(width: number, height: number, level0: Uint8ClampedArray, levels = 2, mpp?: number) {
    this.pixels.push(level0);
    const infoLevels = [{ index: 0, width, height, tileWidth: 64, tileHeight: 64, downsampleX: 1, downsampleY: 1 }];
    let w = width;
    let h = height;
    for (let l = 1; l < levels; l++) {
      const src = this.pixels[l - 1];
      const nw = Math.floor(w / 2);
      const nh = Math.floor(h / 2);
      const dst = new Uint8ClampedArray(nw * nh * 4);
      for (let y = 0; y < nh; y++) {
        for (let x = 0; x < nw; x++) {
          for (let k = 0; k < 4; k++) {
            const a = src[(2 * y * w + 2 * x) * 4 + k] + src[(2 * y * w + 2 * x + 1) * 4 + k];
            const b = src[((2 * y + 1) * w + 2 * x) * 4 + k] + src[((2 * y + 1) * w + 2 * x + 1) * 4 + k];
            dst[(y * nw + x) * 4 + k] = Math.round((a + b) / 4);
          }
        }
      }
      this.pixels.push(dst);
      w = nw;
      h = nh;
      infoLevels.push({ index: l, width: nw, height: nh, tileWidth: 64, tileHeight: 64, downsampleX: 2 ** l, downsampleY: 2 ** l });
    }
    this.info = { format: 'memory', width, height, levels: infoLevels, mppX: mpp, mppY: mpp, properties: {} };
  }

  async readRegion(rect: LevelRect, options?: { signal?: AbortSignal }): Promise<RegionPixels> {
    if (options?.signal?.aborted) {
      const err = new Error('aborted');
      err.name = 'AbortError';
      throw err;
    }
    this.reads.push({ ...rect });
    const lv = this.info.levels[rect.level];
    const src = this.pixels[rect.level];
    const data = new Uint8ClampedArray(rect.width * rect.height * 4);
    for (let y = 0; y < rect.height; y++) {
      for (let x = 0; x < rect.width; x++) {
        const sx = rect.x + x;
        const sy = rect.y + y;
        const di = (y * rect.width + x) * 4;
        if (sx < 0 || sy < 0 || sx >= lv.width || sy >= lv.height) {
          data.set([255, 255, 255, 0], di);
        } else {
          const si = (sy * lv.width + sx) * 4;
          data.set(src.subarray(si, si + 4), di);
        }
      }
    }
    this.bytesRead += data.length;
    return { width: rect.width, height: rect.height, data };
  }

  async readTile(level: number, col: number, row: number): Promise<RegionPixels> {
    return this.readRegion({ level, x: col * 64, y: row * 64, width: 64, height: 64 });
  }

  dispose(): void {}
}

/** Shannon entropy / log C of each pixel of a [1,H,W,C] probability tensor. */
export function normalisedEntropy(probs: Float32Array, classes: number): Float32Array {
  const n = probs.length / classes;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let h = 0;
    for (let c = 0; c < classes; c++) {
      const p = probs[i * classes + c];
      if (p > 0) {
        h -= p * Math.log(p);
      }
    }
    out[i] = h / Math.log(classes);
  }
  return out;
}
