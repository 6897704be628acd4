/**
 * The engine service as the extension uses it in JupyterLab: inference in a
 * Web Worker (WebGL on the page), the default model and tfjs' wasm binaries
 * from the extension's static folder.
 */
import { wasmThreadsPossible } from './backends';
import { EngineService } from './service';
import { createEngineWorkerRuntime } from './worker/createWorker';

export interface BrowserEngineOptions {
  /** URL of the folder with tfjs-backend-wasm's .wasm files. */
  wasmPaths: string;
  /** model.json of the default model. */
  defaultModelUrl: string;
  /** false = everything on the main thread (debugging). Default true. */
  useWorker?: boolean;
  /** WASM threads when cross-origin isolated; default navigator.hardwareConcurrency. */
  wasmThreads?: number;
}

export function createBrowserEngineService(options: BrowserEngineOptions): EngineService {
  const threads = wasmThreadsPossible() ? (options.wasmThreads ?? navigator.hardwareConcurrency ?? 1) : undefined;
  const runtimeOptions = { wasmPaths: options.wasmPaths, wasmThreads: threads };
  return new EngineService({
    ...runtimeOptions,
    defaultModelUrl: options.defaultModelUrl,
    createWorkerRuntime: options.useWorker === false ? undefined : () => createEngineWorkerRuntime(runtimeOptions)
  });
}
