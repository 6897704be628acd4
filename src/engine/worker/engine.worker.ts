/**
 * The engine in a Web Worker: its own tfjs (webgpu, wasm or cpu), models
 * built from bytes the page fetched and transferred, MC dropout run here so
 * the page's thread only posts tiles and receives maps.
 */
import type { BackendName } from '../backends';
import type { McDropout } from '../mcdropout';
import type { SegmentationModel } from '../model';
import { FromWorker, ToWorker, WireError, mapBuffers } from './protocol';

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
}

const scope = self as unknown as WorkerScope;
const models = new Map<number, SegmentationModel>();
const engines = new Map<number, McDropout>();
const runs = new Map<number, AbortController>();
const started = new Set<BackendName>();
let nextId = 1;

function wire(err: unknown): WireError {
  if (err instanceof Error) {
    return { name: err.name, message: err.message, kind: (err as { kind?: string }).kind };
  }
  return { name: 'Error', message: String(err) };
}

async function handle(msg: ToWorker): Promise<{ value?: unknown; transfer?: Transferable[] }> {
  const backends = await import('../backends');
  switch (msg.type) {
    case 'start': {
      if (!started.has(msg.backend)) {
        backends.configureWasmThreads(msg.wasmThreads);
        await backends.ensureRegistered(msg.backend, { wasmPaths: msg.wasmPaths });
        const tf = await import('@tensorflow/tfjs');
        await backends.withBackendExclusive(tf, msg.backend, async () => undefined);
        started.add(msg.backend);
      }
      return { value: msg.backend === 'wasm' ? await backends.wasmThreadCount() : null };
    }
    case 'probe':
      return { value: await backends.probeWebGPUAdapter() };
    case 'load': {
      const { buildSegmentationModel } = await import('../model');
      const model = await buildSegmentationModel(msg.files, msg.backend);
      const modelId = nextId++;
      models.set(modelId, model);
      const info = { metadata: model.metadata, inputShape: model.inputShape, hasDropout: model.hasDropout, classes: model.classes };
      return { value: { modelId, info } };
    }
    case 'engine': {
      const model = models.get(msg.modelId);
      if (!model) {
        throw new Error('the model was disposed');
      }
      const { McDropout } = await import('../mcdropout');
      const engine = new McDropout(model, { samples: msg.samples });
      const engineId = nextId++;
      engines.set(engineId, engine);
      return { value: { engineId, samples: engine.samples, backend: engine.backend } };
    }
    case 'run': {
      const engine = engines.get(msg.engineId);
      if (!engine) {
        throw new Error('the engine was disposed');
      }
      const controller = new AbortController();
      runs.set(msg.id, controller);
      try {
        const maps = await engine.run(msg.patches, {
          signal: controller.signal,
          onProgress: (done, total) => scope.postMessage({ type: 'progress', id: msg.id, done, total })
        });
        return { value: maps, transfer: mapBuffers(maps) };
      } finally {
        runs.delete(msg.id);
      }
    }
    case 'cancel':
      runs.get(msg.runId)?.abort();
      return {};
    case 'calibrate': {
      const model = models.get(msg.modelId);
      if (!model) {
        throw new Error('the model was disposed');
      }
      const { timeModelPass } = await import('../runtime');
      return { value: await timeModelPass(model, msg.size) };
    }
    case 'disposeEngine':
      engines.get(msg.engineId)?.dispose();
      engines.delete(msg.engineId);
      return {};
    case 'memory': {
      const { tfMemory } = await import('../runtime');
      return { value: await tfMemory('worker', started.size > 0) };
    }
    case 'disposeModel':
      models.get(msg.modelId)?.dispose();
      models.delete(msg.modelId);
      return {};
  }
}

scope.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  handle(msg).then(
    ({ value, transfer }) => scope.postMessage({ type: 'ok', id: msg.id, value }, transfer ?? []),
    err => scope.postMessage({ type: 'error', id: msg.id, error: wire(err) })
  );
};
