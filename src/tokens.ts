import { Token } from '@lumino/coreutils';
import { IWidgetTracker } from '@jupyterlab/apputils';
import { IDocumentWidget } from '@jupyterlab/docregistry';
import type { SlidePanel } from './widgets/SlidePanel';

/** Plugin ids, command ids and names shared by the extension's plugins. */
export const PLUGIN_ID = 'jupyterlab-uga:plugin';
export const FACTORY_NAME = 'Slide';
export const MODEL_FACTORY_NAME = 'uga-slide';

export namespace CommandIDs {
  export const openSlide = 'uga:open-slide';
  export const zoomIn = 'uga:zoom-in';
  export const zoomOut = 'uga:zoom-out';
  export const zoomFit = 'uga:zoom-fit';
  export const zoomActual = 'uga:zoom-100';
  export const toggleOverview = 'uga:toggle-overview';
  export const analyzeView = 'uga:analyze-view';
  export const cancelAnalysis = 'uga:cancel-analysis';
  export const clearAnalysis = 'uga:clear-analysis';
}

/** User settings of the slide panel (see schema/plugin.json). */
export interface ISlideSettings {
  tileCacheMB: number;
  maxConcurrentRequests: number;
  showOverview: boolean;
  showScaleBar: boolean;
  backend: 'auto' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';
  mcSamples: number;
  scoreStrategy: 'entropy' | 'mutual_information' | 'uga_score';
  heatmap: 'entropy' | 'mutual_information';
  heatmapOpacity: number;
  modelPath: string;
  suggestions: number;
}

export const DEFAULT_SETTINGS: ISlideSettings = {
  tileCacheMB: 256,
  maxConcurrentRequests: 6,
  showOverview: true,
  showScaleBar: true,
  backend: 'auto',
  mcSamples: 20,
  scoreStrategy: 'uga_score',
  heatmap: 'entropy',
  heatmapOpacity: 0.5,
  modelPath: '',
  suggestions: 10
};

export type ISlideTracker = IWidgetTracker<IDocumentWidget<SlidePanel>>;

/** Token for the tracker of open slide panels (later plugins: editor, workspace). */
export const ISlideTracker = new Token<ISlideTracker>(
  'jupyterlab-uga:ISlideTracker',
  'Tracks the open whole-slide image panels.'
);
