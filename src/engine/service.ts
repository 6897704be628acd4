/**
 * The page's engine service: backends start once per runtime, models are
 * shared by (runtime, backend, model hash) and reference-counted by leases,
 * so nothing a panel does (another model, another backend, a release)
 * disposes a model another panel is running. 'auto' never takes a software
 * WebGPU adapter and otherwise picks by a short calibration on the loaded
 * model, cached per browser and model. tfjs loads lazily, on first use.
 */
import type { EngineRequest, EngineRunOptions, EnginePatch, IEngineLease, IEngineService, IUncertaintyEngine } from '../tokens';
import type { UncertaintyMaps } from '../uncertainty/maps';
import {
  AdapterFacts,
  BACKEND_ORDER,
  BackendCandidate,
  BackendName,
  adapterLabel,
  decideBackend,
  softwareAdapterReason,
  wasmThreadsPossible
} from './backends';
import type { ModelFiles } from './model';
import { EngineRuntime, MainThreadRuntime, ModelHandle, RuntimeMemory, RuntimeOptions } from './runtime';

/** Calibration results kept between sessions (localStorage in a browser). */
export interface CalibrationStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface EngineServiceOptions extends RuntimeOptions {
  /** model.json used when a request's modelUrl is empty. */
  defaultModelUrl?: string;
  /**
   * Start a Web Worker runtime (worker/createWorker.ts's `createEngineWorker`
   * in the browser build). Without it everything runs on the main thread.
   */
  createWorkerRuntime?: () => EngineRuntime;
  /** Where calibrations are cached; default localStorage when there is one. */
  storage?: CalibrationStore | null;
  /** Side of the calibration input when the model takes any size; default 96. */
  calibrationSize?: number;
  /** Backends 'auto' may consider; default all of BACKEND_ORDER. */
  autoCandidates?: readonly BackendName[];
  /** Time the cpu backend too (default: only when nothing else can run; it is plain JS). */
  calibrateCpu?: boolean;
  /** Probe for WebGL on this page; default: a canvas getContext test. */
  hasWebGL?: () => boolean;
}

interface ModelEntry {
  key: string;
  handle: Promise<ModelHandle>;
  refs: number;
  running: number;
  disposed: boolean;
}

const CALIBRATION_PREFIX = 'jupyterlab-uga:backend-calibration:v1:';

function defaultStorage(): CalibrationStore | null {
  try {
    const ls = (globalThis as { localStorage?: Storage }).localStorage;
    return ls ?? null;
  } catch {
    // Access can throw (storage disabled, sandboxed iframe).
    return null;
  }
}

function pageHasWebGL(): boolean {
  if (typeof document === 'undefined') {
    return false;
  }
  try {
    const canvas = document.createElement('canvas');
    return Boolean(canvas.getContext('webgl2') ?? canvas.getContext('webgl'));
  } catch {
    return false;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class EngineService implements IEngineService {
  constructor(private readonly options: EngineServiceOptions = {}) {
    this.storage = options.storage === undefined ? defaultStorage() : options.storage;
  }

  async acquire(request: EngineRequest, onStage?: (text: string) => void): Promise<IEngineLease> {
    const modelUrl = request.modelUrl || this.options.defaultModelUrl || '';
    if (!modelUrl) {
      throw new Error('No model: set a model path in the settings');
    }
    onStage?.('Loading the model…');
    const files = await this.files(modelUrl, request.fetchFunc);
    let backend: BackendName;
    let backendReason: string;
    // Models loaded for calibration stay held until the winner has its reference.
    const calibrated: ModelEntry[] = [];
    if (request.backend === 'auto') {
      onStage?.('Choosing the compute backend…');
      try {
        ({ backend, reason: backendReason } = await this.chooseBackend(files, calibrated, onStage));
      } catch (err) {
        calibrated.forEach(e => this.unref(e));
        throw err;
      }
    } else {
      backend = request.backend;
      backendReason = `${backend}: set in the settings`;
    }
    const runtime = this.runtimeFor(backend);
    const entry = this.entry(runtime, backend, files);
    entry.refs++;
    calibrated.forEach(e => this.unref(e));
    let handle: ModelHandle;
    try {
      onStage?.(`Starting ${backend}…`);
      handle = await entry.handle;
    } catch (err) {
      this.unref(entry);
      throw err;
    }
    const inner = handle.createEngine(request.samples);
    const where = runtime.kind === 'worker' ? 'in a Web Worker' : 'on the main thread';
    let released = false;
    const engine: IUncertaintyEngine = {
      backend,
      samples: inner.samples,
      model: handle.info,
      run: async (patches: EnginePatch[], options?: EngineRunOptions): Promise<UncertaintyMaps[]> => {
        if (released) {
          throw new Error('This engine lease was released');
        }
        entry.running++;
        try {
          return await inner.run(patches, options);
        } finally {
          entry.running--;
          this.maybeDispose(entry);
        }
      },
      dispose: () => lease.release()
    };
    const lease: IEngineLease = {
      engine,
      backend,
      backendReason: `${backendReason} (${where})`,
      modelUrl,
      release: () => {
        if (!released) {
          released = true;
          inner.dispose();
          this.unref(entry);
        }
      }
    };
    return lease;
  }

  /** Models currently held, by key (runtime|backend|hash), with their lease counts (tests, diagnostics). */
  get heldModels(): Map<string, number> {
    return new Map([...this.models.values()].map(e => [e.key, e.refs]));
  }

  /**
   * tf.memory() of the page's tfjs and of the worker's (when one started):
   * long-session benchmarks check that tensors and heaps do not grow.
   */
  async memory(): Promise<RuntimeMemory[]> {
    const runtimes: EngineRuntime[] = [this.main, ...(this.worker ? [this.worker] : [])];
    return Promise.all(runtimes.map(r => r.memory()));
  }

  /** Ends workers and disposes every model (page unload). */
  dispose(): void {
    for (const e of this.models.values()) {
      e.disposed = true;
      e.handle.then(h => h.dispose()).catch(() => undefined);
    }
    this.models.clear();
    this.worker?.dispose();
    this.worker = null;
  }

  // -------------------------------------------------------------------------

  /** Model files by URL; a failed fetch is forgotten so a retry fetches again. */
  private files(url: string, fetchFunc?: typeof fetch): Promise<ModelFiles> {
    let p = this.fileCache.get(url);
    if (!p) {
      p = import('./model').then(m => m.fetchModelFiles(url, { fetchFunc }));
      this.fileCache.set(url, p);
      p.catch(() => this.fileCache.delete(url));
    }
    return p;
  }

  /** A worker for webgpu/wasm/cpu when the page can start one; WebGL needs the page's canvas. */
  private runtimeFor(backend: BackendName): EngineRuntime {
    if (backend !== 'webgl' && this.options.createWorkerRuntime && !this.workerFailed) {
      if (!this.worker) {
        try {
          this.worker = this.options.createWorkerRuntime();
        } catch (err) {
          this.workerFailed = message(err);
        }
      }
      if (this.worker) {
        return this.worker;
      }
    }
    return this.main;
  }

  private entry(runtime: EngineRuntime, backend: BackendName, files: ModelFiles): ModelEntry {
    const key = `${runtime.kind}|${backend}|${files.hash}`;
    let e = this.models.get(key);
    if (!e || e.disposed) {
      // A worker takes the weights as a transferable: hand it a copy, the cache keeps the original.
      const own: ModelFiles =
        runtime.kind === 'worker'
          ? ({ ...files, artifacts: { ...files.artifacts, weightData: files.artifacts.weightData.slice(0) } } as ModelFiles)
          : files;
      const entry: ModelEntry = { key, handle: runtime.loadModel(own, backend), refs: 0, running: 0, disposed: false };
      entry.handle.catch(() => {
        if (this.models.get(key) === entry) {
          this.models.delete(key);
        }
      });
      this.models.set(key, entry);
      e = entry;
    }
    return e;
  }

  private unref(entry: ModelEntry): void {
    entry.refs = Math.max(0, entry.refs - 1);
    this.maybeDispose(entry);
  }

  /** Dispose once no lease holds the model and no run is using it. */
  private maybeDispose(entry: ModelEntry): void {
    if (entry.refs > 0 || entry.running > 0 || entry.disposed) {
      return;
    }
    entry.disposed = true;
    if (this.models.get(entry.key) === entry) {
      this.models.delete(entry.key);
    }
    entry.handle.then(h => h.dispose()).catch(() => undefined);
  }

  private async chooseBackend(
    files: ModelFiles,
    held: ModelEntry[],
    onStage?: (text: string) => void
  ): Promise<{ backend: BackendName; reason: string }> {
    const allowed = this.options.autoCandidates ?? BACKEND_ORDER;
    const candidates: BackendCandidate[] = [];
    let adapter: AdapterFacts | null = null;
    for (const name of BACKEND_ORDER) {
      if (!allowed.includes(name)) {
        continue;
      }
      if (name === 'webgpu') {
        try {
          adapter = await this.runtimeFor('webgpu').probeWebGPU();
        } catch (err) {
          candidates.push({ name, usable: false, why: message(err) });
          continue;
        }
        const software = adapter ? softwareAdapterReason(adapter) : null;
        candidates.push(
          !adapter
            ? { name, usable: false, why: 'no WebGPU adapter' }
            : software
              ? { name, usable: false, why: software }
              : { name, usable: true }
        );
      } else if (name === 'webgl') {
        const ok = (this.options.hasWebGL ?? pageHasWebGL)();
        candidates.push(ok ? { name, usable: true } : { name, usable: false, why: 'no WebGL here' });
      } else if (name === 'wasm') {
        const ok = typeof WebAssembly === 'object';
        candidates.push(ok ? { name, usable: true } : { name, usable: false, why: 'no WebAssembly' });
      } else {
        candidates.push({ name, usable: true });
      }
    }
    const timed = candidates.filter(
      c => c.usable && (c.name !== 'cpu' || this.options.calibrateCpu || candidates.every(o => o.name === 'cpu' || !o.usable))
    );
    const env = [
      typeof navigator === 'undefined' ? 'no-navigator' : navigator.userAgent,
      adapter ? adapterLabel(adapter) : 'no-webgpu',
      wasmThreadsPossible() ? 'isolated' : 'not-isolated',
      this.options.createWorkerRuntime && !this.workerFailed ? 'worker' : 'main'
    ].join(' | ');
    const cacheKey = CALIBRATION_PREFIX + files.hash;
    let timings: Partial<Record<BackendName, number>> | null = null;
    let cached = false;
    try {
      const raw = this.storage?.getItem(cacheKey);
      const parsed = raw ? (JSON.parse(raw) as { env: string; timings: Partial<Record<BackendName, number>> }) : null;
      if (parsed && parsed.env === env && timed.every(c => c.name in parsed.timings)) {
        timings = parsed.timings;
        cached = true;
      }
    } catch {
      // A corrupt cache entry is recalibrated.
    }
    if (!timings) {
      timings = {};
      for (const c of timed) {
        if (timed.length === 1) {
          break;
        }
        onStage?.(`Timing ${c.name}…`);
        const runtime = this.runtimeFor(c.name);
        // Through the shared entries: the winner's model is already loaded afterwards.
        const entry = this.entry(runtime, c.name, files);
        entry.refs++;
        held.push(entry);
        try {
          const handle = await entry.handle;
          timings[c.name] = await handle.calibrate(this.options.calibrationSize ?? 96);
        } catch (err) {
          c.usable = false;
          c.why = `failed to start (${message(err)})`;
        }
      }
      try {
        if (Object.keys(timings).length > 0) {
          this.storage?.setItem(cacheKey, JSON.stringify({ env, timings, at: new Date().toISOString() }));
        }
      } catch {
        // Full or disabled storage: calibrate again next time.
      }
    }
    const decision = decideBackend(candidates, timings);
    if (!timings.cpu && candidates.some(c => c.name === 'cpu' && c.usable) && decision.backend !== 'cpu') {
      decision.reason += '; cpu not timed (plain JS, always slower than wasm)';
    }
    if (cached) {
      decision.reason += '; calibration cached for this browser and model';
    }
    return decision;
  }

  private readonly storage: CalibrationStore | null;
  private readonly main = new MainThreadRuntime(this.options);
  private worker: EngineRuntime | null = null;
  private workerFailed: string | null = null;
  private readonly models = new Map<string, ModelEntry>();
  private readonly fileCache = new Map<string, Promise<ModelFiles>>();
}
