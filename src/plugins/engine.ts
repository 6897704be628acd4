import type { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { EngineService } from '../analysis/EngineService';
import { IEngineService } from '../tokens';

/** One engine service for the page: tfjs starts once and loaded models are shared. */
export const enginePlugin: JupyterFrontEndPlugin<IEngineService> = {
  id: 'jupyterlab-uga:engine',
  description: 'Loads segmentation models and runs MC-dropout uncertainty (tfjs, loaded lazily).',
  autoStart: true,
  provides: IEngineService,
  activate: (): IEngineService => new EngineService()
};
