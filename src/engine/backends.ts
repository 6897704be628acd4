/**
 * Picking a tfjs backend. Backend packages are imported only when tried, so
 * the JupyterLab bundle does not load WebGPU/WASM code it never uses.
 */
export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** Fastest first. */
export const BACKEND_ORDER: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface InitBackendOptions {
  /** Folder (URL) that serves tfjs-backend-wasm's .wasm files. */
  wasmPaths?: string;
  /** Called for each backend that could not start, with the reason. */
  onFallback?: (name: BackendName, reason: string) => void;
}

async function registerBackend(name: BackendName, options: InitBackendOptions, rejectSoftware = false): Promise<void> {
  switch (name) {
    case 'webgpu': {
      const gpu = typeof navigator === 'undefined' ? undefined : (navigator as { gpu?: unknown }).gpu;
      if (!gpu) {
        throw new Error('navigator.gpu is not available');
      }
      // tfjs' factory dereferences a null adapter; ask first for a clear reason.
      const facts = await probeWebGPUAdapter();
      if (!facts) {
        throw new Error('no WebGPU adapter (no GPU, or the driver/Vulkan library is missing)');
      }
      // A software adapter is tens of times slower than wasm: never an automatic choice.
      const software = rejectSoftware ? softwareAdapterReason(facts) : null;
      if (software) {
        throw new Error(software);
      }
      await import('@tensorflow/tfjs-backend-webgpu');
      return;
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (options.wasmPaths) {
        wasm.setWasmPaths(options.wasmPaths.endsWith('/') ? options.wasmPaths : options.wasmPaths + '/');
      }
      if (wasmThreads !== undefined) {
        liftWasmThreadCap(wasmThreads);
        wasm.setThreadsCount(wasmThreads);
      }
      return;
    }
    case 'webgl':
    case 'cpu':
      // Registered by @tensorflow/tfjs itself (webgl only in a browser).
      return;
  }
}

let lastStarted: BackendName | null = null;

/** The backend the last successful initBackend started (what a model built without a service runs on). */
export function startedBackend(): BackendName | null {
  return lastStarted;
}

/** Register (import) a backend's package and check tfjs knows it; does not switch to it. */
export async function ensureRegistered(name: BackendName, options: InitBackendOptions = {}): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  await registerBackend(name, options);
  if (!tf.findBackendFactory(name)) {
    throw new Error(`${name}: not registered in this environment`);
  }
}

/**
 * Start the preferred backend, or the first one of BACKEND_ORDER that starts
 * when 'auto' (a software WebGPU adapter does not count; the engine service
 * calibrates instead of taking this order). A forced backend that fails is an error (the setting asked for
 * it). Returns the backend actually running.
 */
export async function initBackend(preferred: BackendName | 'auto', options: InitBackendOptions = {}): Promise<BackendName> {
  const tf = await import('@tensorflow/tfjs');
  const candidates: readonly BackendName[] = preferred === 'auto' ? BACKEND_ORDER : [preferred];
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      await registerBackend(name, options, preferred === 'auto');
      if (!tf.findBackendFactory(name)) {
        throw new Error('not registered in this environment');
      }
      // setBackend resolves false when the backend fails to initialise, while
      // getBackend() may still report it: trust only the boolean.
      const ok = await tf.setBackend(name);
      if (!ok) {
        throw new Error('failed to initialise');
      }
      await tf.ready();
      if (tf.getBackend() !== name) {
        throw new Error(`tfjs is running ${tf.getBackend()} instead`);
      }
      lastStarted = name;
      return name;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      failures.push(`${name}: ${reason}`);
      options.onFallback?.(name, reason);
    }
  }
  throw new Error(`No tfjs backend could start (${failures.join('; ')})`);
}

// ---------------------------------------------------------------------------
// Several backends in one tfjs runtime. tfjs has one global backend, and ops
// run on it (moving foreign tensors there). Engines on different backends
// may interleave (two panels), so every synchronous stretch of tensor work
// first checks, synchronously, that its backend is the active one; model
// building, which spans awaits inside tfjs, holds the runtime exclusively.
// ---------------------------------------------------------------------------

type Tf = typeof import('@tensorflow/tfjs');

let holding: Promise<void> | null = null;

/**
 * Make `name` the active backend now, synchronously, and return true; false
 * when that cannot happen without waiting (an exclusive hold, or a backend
 * that still needs its async initialisation). Call it right before tensor
 * work, after your last await, and do the work in the same synchronous
 * stretch. (For an initialised backend, tf.setBackend switches before its
 * first await, so the switch is immediate; waiting for its promise instead
 * would let two engines switch back and forth for ever.)
 */
export function isOnBackend(tf: Tf, name: BackendName): boolean {
  if (holding !== null) {
    return false;
  }
  if (tf.getBackend() !== name) {
    const registry = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
    if (!registry?.[name]) {
      return false;
    }
    void tf.setBackend(name);
  }
  return tf.getBackend() === name;
}

/**
 * Make `name` active (waiting out an exclusive hold). Callers loop:
 * `while (!isOnBackend(tf, b)) await switchBackend(tf, b);`, since another
 * engine may switch again before the caller's continuation runs.
 */
export async function switchBackend(tf: Tf, name: BackendName): Promise<void> {
  if (holding) {
    await holding;
    return;
  }
  if (tf.getBackend() !== name && !(await tf.setBackend(name))) {
    throw new Error(`the ${name} backend failed to start`);
  }
}

/** Run `fn` with `name` active and no other engine's tensor work in between (model building). */
export async function withBackendExclusive<T>(tf: Tf, name: BackendName, fn: () => Promise<T>): Promise<T> {
  while (holding) {
    await holding;
  }
  let release!: () => void;
  holding = new Promise<void>(resolve => (release = resolve));
  try {
    if (tf.getBackend() !== name && !(await tf.setBackend(name))) {
      throw new Error(`the ${name} backend failed to start`);
    }
    return await fn();
  } finally {
    holding = null;
    release();
  }
}

// ---------------------------------------------------------------------------
// Backend choice for 'auto'.
// ---------------------------------------------------------------------------

/** What a WebGPU adapter says about itself (GPUAdapter.info / isFallbackAdapter). */
export interface AdapterFacts {
  isFallbackAdapter?: boolean;
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|software|warp|basic render/i;

/** Why an adapter is a software rasteriser (CPU emulating a GPU), or null for a real GPU. Pure. */
export function softwareAdapterReason(facts: AdapterFacts): string | null {
  if (facts.isFallbackAdapter) {
    return 'the WebGPU adapter is a fallback (software) adapter';
  }
  const text = [facts.vendor, facts.architecture, facts.device, facts.description].filter(Boolean).join(' ');
  const m = SOFTWARE_ADAPTER.exec(text);
  return m ? `the WebGPU adapter is ${/swiftshader/i.test(m[0]) ? 'SwiftShader' : m[0]} (software)` : null;
}

/** One line naming the adapter, for reasons and cache keys. */
export function adapterLabel(facts: AdapterFacts): string {
  return [facts.vendor, facts.architecture, facts.device, facts.description].filter(Boolean).join(' ').trim() || 'unknown adapter';
}

interface GPUAdapterLike {
  isFallbackAdapter?: boolean;
  info?: AdapterFacts & { isFallbackAdapter?: boolean };
  requestAdapterInfo?: () => Promise<AdapterFacts>;
}

/** Ask navigator.gpu for an adapter and describe it; null when there is none. */
export async function probeWebGPUAdapter(): Promise<AdapterFacts | null> {
  const gpu =
    typeof navigator === 'undefined' ? undefined : (navigator as { gpu?: { requestAdapter(): Promise<GPUAdapterLike | null> } }).gpu;
  if (!gpu) {
    return null;
  }
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    return null;
  }
  let info: AdapterFacts = adapter.info ?? {};
  if (!adapter.info && adapter.requestAdapterInfo) {
    info = await adapter.requestAdapterInfo().catch(() => ({}));
  }
  return {
    isFallbackAdapter: Boolean(adapter.isFallbackAdapter ?? adapter.info?.isFallbackAdapter),
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description
  };
}

/** A backend that could run here, before timing. */
export interface BackendCandidate {
  name: BackendName;
  /** False = excluded, with `why`. */
  usable: boolean;
  why?: string;
}

export interface BackendDecision {
  backend: BackendName;
  reason: string;
}

/**
 * The 'auto' choice, pure: the fastest usable backend by measured ms per
 * calibration pass; untimed usable ones count as slower than any timed one,
 * in BACKEND_ORDER. The reason says what was excluded and the margin.
 */
export function decideBackend(candidates: BackendCandidate[], timings: Partial<Record<BackendName, number>>): BackendDecision {
  const usable = candidates.filter(c => c.usable);
  if (usable.length === 0) {
    throw new Error(`No tfjs backend can run here (${candidates.map(c => `${c.name}: ${c.why ?? 'unusable'}`).join('; ')})`);
  }
  const timed = usable.filter(c => Number.isFinite(timings[c.name])).sort((a, b) => timings[a.name]! - timings[b.name]!);
  const excluded = candidates.filter(c => !c.usable && c.why).map(c => `${c.name} skipped: ${c.why}`);
  let backend: BackendName;
  let because: string;
  if (timed.length > 0) {
    backend = timed[0].name;
    const ms = timings[backend]!;
    const next = timed[1];
    because = next
      ? `${backend} ${(timings[next.name]! / ms).toFixed(1)}x faster than ${next.name} (${ms.toFixed(0)} vs ${timings[next.name]!.toFixed(0)} ms per calibration pass)`
      : `${backend} ${ms.toFixed(0)} ms per calibration pass, the only one timed`;
  } else {
    backend = [...usable].sort((a, b) => BACKEND_ORDER.indexOf(a.name) - BACKEND_ORDER.indexOf(b.name))[0].name;
    because = `${backend}: first usable backend (no calibration)`;
  }
  return { backend, reason: ['auto: ' + because, ...excluded].join('; ') };
}

let wasmThreads: number | undefined;

/**
 * Threads for the WASM backend, before it starts. tfjs uses its threaded
 * binary only when the page is cross-origin isolated (SharedArrayBuffer);
 * then it defaults to navigator.hardwareConcurrency / 2 threads (at most 8).
 * undefined = that default.
 */
export function configureWasmThreads(threads?: number): void {
  wasmThreads = threads && threads > 0 ? Math.floor(threads) : undefined;
}

/**
 * tfjs-backend-wasm caps its XNNPACK thread pool at
 * navigator.hardwareConcurrency / 2 (it assumes two hyper-threads per core),
 * whatever setThreadsCount asks: on a 2-core machine the threaded build runs 1
 * thread. The cap is read when the WASM module starts, so a dedicated worker
 * (ours: nothing else runs there) reports twice the threads asked for, and the
 * count asked is the count used. Never on a page: JupyterLab reads it too.
 * Returns whether the cap was lifted.
 */
export function liftWasmThreadCap(threads: number, scope: unknown = globalThis): boolean {
  const g = scope as { navigator?: { hardwareConcurrency?: number }; WorkerGlobalScope?: unknown; document?: unknown };
  const inWorker = typeof g.WorkerGlobalScope !== 'undefined' && typeof g.document === 'undefined';
  const nav = g.navigator;
  if (!inWorker || !nav || !(threads > 0)) {
    return false;
  }
  const cores = nav.hardwareConcurrency ?? 1;
  if (Math.floor(cores / 2) >= threads) {
    return false;
  }
  const reported = 2 * Math.floor(threads);
  try {
    Object.defineProperty(nav, 'hardwareConcurrency', { configurable: true, get: () => reported });
  } catch {
    return false;
  }
  return nav.hardwareConcurrency === reported;
}

/** Whether threads can work here (cross-origin isolated + SharedArrayBuffer). */
export function wasmThreadsPossible(): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

/** Threads the started WASM backend uses (1 without isolation), or null before it started. */
export async function wasmThreadCount(): Promise<number | null> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    return wasm.getThreadsCount();
  } catch {
    return null;
  }
}
