/**
 * The browser's engine worker. Kept in its own module: `import.meta.url`
 * is what lets the bundler (Rspack/webpack) emit engine.worker.js as a chunk
 * of the prebuilt extension, and jest (CommonJS) never loads this file.
 */
import type { RuntimeOptions } from '../runtime';
import { WorkerRuntime } from './WorkerEngine';

/** Start the engine worker; throws where Workers are unavailable. */
export function createEngineWorkerRuntime(options: RuntimeOptions = {}): WorkerRuntime {
  if (typeof Worker === 'undefined') {
    throw new Error('Web Workers are not available');
  }
  // The bundler needs this exact shape; tsconfig.test.json (CommonJS) rejects import.meta, jest never loads this file.
  // prettier-ignore
  // eslint-disable-next-line @typescript-eslint/ban-ts-comment
  // @ts-ignore TS1343 under module=commonjs only
  const worker = new Worker(new URL('./engine.worker.js', import.meta.url), { name: 'uga-engine' });
  // The worker resolves URLs against its own script: hand it an absolute wasm folder.
  const wasmPaths = options.wasmPaths ? new URL(options.wasmPaths, location.href).href : undefined;
  return new WorkerRuntime(worker as never, { ...options, wasmPaths });
}
