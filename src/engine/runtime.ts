/**
 * Where models live and engines run: the page's own tfjs (main thread) or a
 * Web Worker's (worker/). Both give the service the same small interface.
 */
import type { IEngineModelInfo, IUncertaintyEngine } from '../tokens';
import type { AdapterFacts, BackendName } from './backends';
import type { ModelFiles, SegmentationModel } from './model';

/** A model built on one backend of one runtime. */
export interface ModelHandle {
  readonly info: IEngineModelInfo;
  readonly backend: BackendName;
  createEngine(samples: number): IUncertaintyEngine;
  /** ms of one deterministic pass at calibration size (after a warm-up). */
  calibrate(size: number): Promise<number>;
  dispose(): void;
}

/** What a runtime's tfjs holds now (long-session benchmarks, leak checks). */
export interface RuntimeMemory {
  kind: 'main' | 'worker';
  /** null while tfjs was never loaded in this runtime. */
  backend: string | null;
  numTensors: number;
  numBytes: number;
  /** Size of the WASM backend's heap (its linear memory), when it runs. */
  wasmHeapBytes: number | null;
  wasmThreads: number | null;
}

/** tf.memory() and the WASM heap of the tfjs loaded in this realm (none loaded: zeros, and it is not loaded). */
export async function tfMemory(kind: 'main' | 'worker', loaded: boolean): Promise<RuntimeMemory> {
  if (!loaded) {
    return { kind, backend: null, numTensors: 0, numBytes: 0, wasmHeapBytes: null, wasmThreads: null };
  }
  const tf = await import('@tensorflow/tfjs');
  const m = tf.memory();
  const backend = tf.getBackend() ?? null;
  let wasmHeapBytes: number | null = null;
  let wasmThreads: number | null = null;
  if (backend === 'wasm') {
    const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
    wasmHeapBytes = wasm?.HEAPU8?.byteLength ?? null;
    const { wasmThreadCount } = await import('./backends');
    wasmThreads = await wasmThreadCount();
  }
  return { kind, backend, numTensors: m.numTensors, numBytes: m.numBytes, wasmHeapBytes, wasmThreads };
}

export interface EngineRuntime {
  readonly kind: 'main' | 'worker';
  /** What this runtime's tfjs holds now. */
  memory(): Promise<RuntimeMemory>;
  /** Register and start `backend` (no-op when started). */
  start(backend: BackendName): Promise<void>;
  /** The WebGPU adapter this runtime would use, or null. */
  probeWebGPU(): Promise<AdapterFacts | null>;
  /** Build a model; on a worker, `files.artifacts.weightData` is transferred (detached here). */
  loadModel(files: ModelFiles, backend: BackendName): Promise<ModelHandle>;
  dispose(): void;
}

export interface RuntimeOptions {
  wasmPaths?: string;
  /** WASM threads (only used when the page is cross-origin isolated). */
  wasmThreads?: number;
}

/**
 * Best of two timed deterministic passes on a [1, size, size, 3] input
 * (after one warm-up, which compiles kernels and shaders). The input side is
 * the model's own when its input size is fixed.
 */
export async function timeModelPass(model: SegmentationModel, size: number): Promise<number> {
  const tf = await import('@tensorflow/tfjs');
  const { isOnBackend, switchBackend } = await import('./backends');
  const fixed = model.layersModel.inputs[0].shape[1];
  const s = typeof fixed === 'number' ? fixed : Math.min(size, model.inputShape[0]);
  let best = Infinity;
  for (let k = 0; k < 3; k++) {
    while (!isOnBackend(tf, model.backend)) {
      await switchBackend(tf, model.backend);
    }
    const t0 = performance.now();
    const y = tf.tidy(() => model.layersModel.predict(tf.fill([1, s, s, 3], 0.5)) as import('@tensorflow/tfjs').Tensor);
    // Reading the output waits for the GPU too.
    await y.data();
    y.dispose();
    if (k > 0) {
      best = Math.min(best, performance.now() - t0);
    }
  }
  return best;
}

/** The page's own tfjs. */
export class MainThreadRuntime implements EngineRuntime {
  readonly kind = 'main' as const;

  constructor(private readonly options: RuntimeOptions = {}) {}

  async start(backend: BackendName): Promise<void> {
    const tf = await import('@tensorflow/tfjs');
    const { ensureRegistered, configureWasmThreads } = await import('./backends');
    if (!this.started.has(backend)) {
      await ensureRegistered(backend, { wasmPaths: this.options.wasmPaths });
      if (backend === 'wasm') {
        configureWasmThreads(this.options.wasmThreads);
      }
      // tf.setBackend initialises once; later switches are cheap.
      const { withBackendExclusive } = await import('./backends');
      await withBackendExclusive(tf, backend, async () => undefined);
      this.started.add(backend);
    }
  }

  async probeWebGPU(): Promise<AdapterFacts | null> {
    const { probeWebGPUAdapter } = await import('./backends');
    return probeWebGPUAdapter();
  }

  async loadModel(files: ModelFiles, backend: BackendName): Promise<ModelHandle> {
    await this.start(backend);
    const { buildSegmentationModel } = await import('./model');
    const { McDropout } = await import('./mcdropout');
    const model = await buildSegmentationModel(files, backend);
    return {
      info: model,
      backend,
      createEngine: samples => new McDropout(model, { samples }),
      calibrate: size => timeModelPass(model, size),
      dispose: () => model.dispose()
    };
  }

  memory(): Promise<RuntimeMemory> {
    return tfMemory('main', this.started.size > 0);
  }

  dispose(): void {
    // The page's tfjs stays; models are disposed by their handles.
  }

  private readonly started = new Set<BackendName>();
}
