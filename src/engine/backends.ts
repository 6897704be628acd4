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

async function registerBackend(name: BackendName, options: InitBackendOptions): Promise<void> {
  switch (name) {
    case 'webgpu': {
      const gpu = typeof navigator === 'undefined' ? undefined : (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      if (!gpu) {
        throw new Error('navigator.gpu is not available');
      }
      // tfjs' factory dereferences a null adapter; ask first for a clear reason.
      if (!(await gpu.requestAdapter())) {
        throw new Error('no WebGPU adapter (no GPU, or the driver/Vulkan library is missing)');
      }
      await import('@tensorflow/tfjs-backend-webgpu');
      return;
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (options.wasmPaths) {
        wasm.setWasmPaths(options.wasmPaths.endsWith('/') ? options.wasmPaths : options.wasmPaths + '/');
      }
      return;
    }
    case 'webgl':
    case 'cpu':
      // Registered by @tensorflow/tfjs itself (webgl only in a browser).
      return;
  }
}

/**
 * Start the preferred backend, or the first one of BACKEND_ORDER that starts
 * when 'auto'. A forced backend that fails is an error (the setting asked for
 * it). Returns the backend actually running.
 */
export async function initBackend(
  preferred: BackendName | 'auto',
  options: InitBackendOptions = {}
): Promise<BackendName> {
  const tf = await import('@tensorflow/tfjs');
  const candidates: readonly BackendName[] = preferred === 'auto' ? BACKEND_ORDER : [preferred];
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      await registerBackend(name, options);
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
      return name;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      failures.push(`${name}: ${reason}`);
      options.onFallback?.(name, reason);
    }
  }
  throw new Error(`No tfjs backend could start (${failures.join('; ')})`);
}
