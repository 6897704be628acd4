import type { BackendName, McDropout, SegmentationModel } from '../engine';
import { extensionStaticUrl } from '../staticUrl';

export interface EngineRequest {
  backend: BackendName | 'auto';
  /** URL of a model.json; empty = the default model shipped with the extension. */
  modelUrl: string;
  fetchFunc?: typeof fetch;
  samples: number;
}

export interface EngineHandle {
  backend: BackendName;
  model: SegmentationModel;
  engine: McDropout;
  modelUrl: string;
}

/**
 * One tfjs runtime for the whole page: the backend starts once and loaded
 * models are kept by URL, so a second analysis starts at once. tfjs and the
 * engine are imported here, lazily, on the first analysis.
 */
export class EngineService {
  async acquire(request: EngineRequest, onStage?: (text: string) => void): Promise<EngineHandle> {
    const engineModule = await import('../engine');
    if (!this._backend || (request.backend !== 'auto' && request.backend !== this._backend)) {
      onStage?.('Starting the compute backend…');
      this._backend = await engineModule.initBackend(request.backend, {
        wasmPaths: extensionStaticUrl('tfjs-wasm') + '/'
      });
      // Models hold tensors of the old backend.
      for (const m of this._models.values()) {
        (await m).dispose();
      }
      this._models.clear();
    }
    const modelUrl = request.modelUrl || extensionStaticUrl('default-model', 'model.json');
    let model = this._models.get(modelUrl);
    if (!model) {
      onStage?.('Loading the model…');
      model = engineModule.loadSegmentationModel(modelUrl, { fetchFunc: request.fetchFunc });
      this._models.set(modelUrl, model);
      model.catch(() => this._models.delete(modelUrl));
    }
    const loaded = await model;
    const engine = new engineModule.McDropout(loaded, { samples: request.samples });
    return { backend: this._backend, model: loaded, engine, modelUrl };
  }

  get backend(): BackendName | null {
    return this._backend;
  }

  private _backend: BackendName | null = null;
  private _models = new Map<string, Promise<SegmentationModel>>();
}
