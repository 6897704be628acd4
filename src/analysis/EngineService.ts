import type { BackendName, SegmentationModel } from '../engine';
import { extensionStaticUrl } from '../staticUrl';
import type { EngineRequest, IEngineLease, IEngineService } from '../tokens';

/**
 * Interim engine service (main thread): the backend starts once, models are
 * kept per backend and URL and never disposed while a lease holds them.
 * tfjs and the engine are imported lazily, on the first analysis.
 */
export class EngineService implements IEngineService {
  async acquire(request: EngineRequest, onStage?: (text: string) => void): Promise<IEngineLease> {
    const engineModule = await import('../engine');
    if (!this._backend || (request.backend !== 'auto' && request.backend !== this._backend)) {
      onStage?.('Starting the compute backend…');
      this._backend = await engineModule.initBackend(request.backend, {
        wasmPaths: extensionStaticUrl('tfjs-wasm') + '/'
      });
    }
    const backend = this._backend;
    const modelUrl = request.modelUrl || extensionStaticUrl('default-model', 'model.json');
    const key = `${backend}|${modelUrl}`;
    let model = this._models.get(key);
    if (!model) {
      onStage?.('Loading the model…');
      model = engineModule.loadSegmentationModel(modelUrl, { fetchFunc: request.fetchFunc });
      this._models.set(key, model);
      model.catch(() => this._models.delete(key));
    }
    const loaded = await model;
    const mc = new engineModule.McDropout(loaded, { samples: request.samples });
    let released = false;
    return {
      backend,
      backendReason: request.backend === 'auto' ? `auto: first backend that started` : 'set in the settings',
      modelUrl,
      engine: {
        backend,
        samples: mc.samples,
        model: loaded,
        run: (patches, options) => mc.run(patches, options),
        dispose: () => mc.dispose()
      },
      release: () => {
        if (!released) {
          released = true;
          mc.dispose();
        }
      }
    };
  }

  get backend(): BackendName | null {
    return this._backend;
  }

  private _backend: BackendName | null = null;
  private _models = new Map<string, Promise<SegmentationModel>>();
}
