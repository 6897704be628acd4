import type { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { extensionStaticUrl } from '../staticUrl';
import { IEngineService } from '../tokens';
import type { EngineRequest, IEngineLease } from '../tokens';

/**
 * One engine service for the page: inference in a Web Worker (WebGL on the
 * page), models shared by hash and reference-counted, `auto` calibrated and
 * never on a software GPU. The engine and tfjs load on the first analysis.
 */
export const enginePlugin: JupyterFrontEndPlugin<IEngineService> = {
  id: 'jupyterlab-uga:engine',
  description: 'Loads segmentation models and runs MC-dropout uncertainty (tfjs in a Web Worker, loaded lazily).',
  autoStart: true,
  provides: IEngineService,
  activate: (): IEngineService => {
    let service: Promise<IEngineService> | null = null;
    return {
      acquire(request: EngineRequest, onStage?: (text: string) => void): Promise<IEngineLease> {
        service ??= import('../engine/browser').then(m =>
          m.createBrowserEngineService({
            wasmPaths: extensionStaticUrl('tfjs-wasm') + '/',
            defaultModelUrl: extensionStaticUrl('default-model', 'model.json')
          })
        );
        return service.then(s => s.acquire(request, onStage));
      }
    };
  }
};
