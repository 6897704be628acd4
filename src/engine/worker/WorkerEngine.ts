/**
 * The page's side of the engine worker: a runtime for the EngineService and
 * `WorkerEngine implements IUncertaintyEngine`. Tiles are copied once into
 * fresh buffers and transferred (the caller keeps its pixels); maps come
 * back as transferables, without copies.
 */
import type { EnginePatch, EngineRunOptions, IEngineModelInfo, IUncertaintyEngine } from '../../tokens';
import type { UncertaintyMaps } from '../../uncertainty/maps';
import type { AdapterFacts, BackendName } from '../backends';
import { abortError } from '../mcdropout';
import { ModelError, ModelErrorKind, ModelFiles } from '../model';
import type { EngineRuntime, ModelHandle, RuntimeMemory, RuntimeOptions } from '../runtime';
import type { EngineResult, FromWorker, LoadResult, ToWorker, WireError, WirePatch } from './protocol';

/** What WorkerRuntime needs of a Worker (a real one, or a stand-in in tests). */
export interface WorkerLike {
  postMessage(message: ToWorker, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent<FromWorker>) => void): void;
  addEventListener(type: 'error', listener: (ev: ErrorEvent) => void): void;
  terminate(): void;
}

// Distributes ToWorker over its members so each call site may leave `id` out.
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  onProgress?: (done: number, total: number) => void;
}

function fromWire(e: WireError): Error {
  if (e.name === 'AbortError') {
    return abortError();
  }
  if (e.name === 'ModelError' && e.kind) {
    return new ModelError(e.kind as ModelErrorKind, e.message);
  }
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

export class WorkerRuntime implements EngineRuntime {
  readonly kind = 'worker' as const;

  constructor(
    private readonly worker: WorkerLike,
    private readonly options: RuntimeOptions = {}
  ) {
    worker.addEventListener('message', (ev: MessageEvent<FromWorker>) => this.onMessage(ev.data));
    worker.addEventListener('error', (ev: ErrorEvent) => {
      // A worker that fails to load (bad chunk URL, CSP): every pending call fails with the reason.
      this.failed = new Error(`The engine worker failed: ${ev.message || 'could not start'}`);
      for (const p of this.pending.values()) {
        p.reject(this.failed);
      }
      this.pending.clear();
    });
  }

  /** Post a request; resolves with the worker's answer. */
  call<T>(
    message: WithoutId<ToWorker>,
    transfer: Transferable[] = [],
    onProgress?: (done: number, total: number) => void
  ): { id: number; result: Promise<T> } {
    const id = this.nextId++;
    const result = new Promise<T>((resolve, reject) => {
      if (this.failed) {
        reject(this.failed);
        return;
      }
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
      this.worker.postMessage({ ...message, id } as ToWorker, transfer);
    });
    return { id, result };
  }

  async start(backend: BackendName): Promise<void> {
    let p = this.started.get(backend);
    if (!p) {
      p = this.call<number | null>({
        type: 'start',
        backend,
        wasmPaths: this.options.wasmPaths,
        wasmThreads: this.options.wasmThreads
      }).result.then(threads => {
        if (backend === 'wasm') {
          this.wasmThreads = threads;
        }
      });
      this.started.set(backend, p);
      p.catch(() => this.started.delete(backend));
    }
    return p;
  }

  /** Threads the worker's WASM backend runs (null before it started). */
  wasmThreads: number | null = null;

  memory(): Promise<RuntimeMemory> {
    return this.call<RuntimeMemory>({ type: 'memory' }).result;
  }

  probeWebGPU(): Promise<AdapterFacts | null> {
    return this.call<AdapterFacts | null>({ type: 'probe' }).result;
  }

  async loadModel(files: ModelFiles, backend: BackendName): Promise<ModelHandle> {
    await this.start(backend);
    const { modelId, info } = await this.call<LoadResult>({ type: 'load', backend, files }, [files.artifacts.weightData]).result;
    let disposed = false;
    return {
      info,
      backend,
      createEngine: samples => new WorkerEngine(this, modelId, backend, info, samples),
      calibrate: size => this.call<number>({ type: 'calibrate', modelId, size }).result,
      dispose: () => {
        if (!disposed) {
          disposed = true;
          void this.call({ type: 'disposeModel', modelId }).result.catch(() => undefined);
        }
      }
    };
  }

  dispose(): void {
    this.worker.terminate();
    this.failed = new Error('The engine worker was stopped');
    for (const p of this.pending.values()) {
      p.reject(this.failed);
    }
    this.pending.clear();
  }

  private onMessage(msg: FromWorker): void {
    const p = this.pending.get(msg.id);
    if (!p) {
      return;
    }
    if (msg.type === 'progress') {
      p.onProgress?.(msg.done, msg.total);
      return;
    }
    this.pending.delete(msg.id);
    if (msg.type === 'ok') {
      p.resolve(msg.value);
    } else {
      p.reject(fromWire(msg.error));
    }
  }

  private nextId = 1;
  private failed: Error | null = null;
  private readonly pending = new Map<number, Pending>();
  private readonly started = new Map<BackendName, Promise<void>>();
}

/** MC-dropout uncertainty computed in the worker. */
export class WorkerEngine implements IUncertaintyEngine {
  /** T used (1 for a model without Dropout, known before the engine is created remotely). */
  readonly samples: number;

  constructor(
    private readonly runtime: WorkerRuntime,
    modelId: number,
    readonly backend: BackendName,
    readonly model: IEngineModelInfo,
    samples: number
  ) {
    // Same rule as McDropout: T collapses to 1 without active Dropout.
    this.samples = model.hasDropout ? Math.max(1, Math.floor(samples)) : 1;
    this.engine = runtime.call<EngineResult>({ type: 'engine', modelId, samples }).result;
  }

  async run(patches: EnginePatch[], options: EngineRunOptions = {}): Promise<UncertaintyMaps[]> {
    const { signal, onProgress } = options;
    if (signal?.aborted) {
      throw abortError();
    }
    if (this.disposed) {
      throw new Error('The engine was disposed');
    }
    const { engineId } = await this.engine;
    const wire: WirePatch[] = patches.map(p => ({ width: p.width, height: p.height, channels: p.channels, data: new Uint8Array(p.data) }));
    const { id, result } = this.runtime.call<UncertaintyMaps[]>(
      { type: 'run', engineId, patches: wire },
      wire.map(p => p.data.buffer),
      onProgress
    );
    const onAbort = () => void this.runtime.call({ type: 'cancel', runId: id }).result.catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await result;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  dispose(): void {
    if (!this.disposed) {
      this.disposed = true;
      this.engine.then(({ engineId }) => this.runtime.call({ type: 'disposeEngine', engineId }).result).catch(() => undefined);
    }
  }

  private readonly engine: Promise<EngineResult>;
  private disposed = false;
}
