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

// ---------------------------------------------------------------------------
// Contracts between the stages (interfaces only; implementations live in
// engine/, editor/, workspace/). Fixed here so that a Worker proxy, the
// editor and the workspace writer can be built side by side.
// ---------------------------------------------------------------------------

import type { ISignal } from '@lumino/signaling';
import type { BackendName } from './engine/backends';
import type { ModelClassInfo, ModelMetadata } from './engine/model';
import type { UncertaintyMaps } from './uncertainty/maps';

/** RGB(A) uint8 pixels of one model-sized tile. */
export interface EnginePatch {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array | Uint8ClampedArray;
}

export interface EngineRunOptions {
  signal?: AbortSignal;
  /** In units of samples: done of total = patches * T. */
  onProgress?: (done: number, total: number) => void;
}

/** What the rest of the extension needs to know about the loaded model. */
export interface IEngineModelInfo {
  readonly metadata: ModelMetadata;
  /** [height, width, 3] */
  readonly inputShape: [number, number, number];
  readonly hasDropout: boolean;
  readonly classes: number;
}

/**
 * MC-dropout uncertainty of model-sized tiles. `McDropout` implements it on
 * the page's tfjs; a Worker proxy implements it by posting tiles and
 * receiving maps.
 */
export interface IUncertaintyEngine {
  readonly backend: BackendName;
  /** T actually used (1 when the model has no Dropout). */
  readonly samples: number;
  readonly model: IEngineModelInfo;
  run(patches: EnginePatch[], options?: EngineRunOptions): Promise<UncertaintyMaps[]>;
  dispose(): void;
}

/** State of a suggested patch (same words as the corrections manifest). */
export type CorrectionStatus = 'suggested' | 'corrected' | 'skipped';

/** Mask value that means "not labelled: never trained on, never scored". */
export const IGNORE_LABEL = 255;

/**
 * One patch a person reviews: what the editor hands to the workspace and
 * what the workspace restores. Pixel arrays are at analysis resolution.
 */
export interface Correction {
  /** `^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`, names the PNG files. */
  id: string;
  /** 1 = most uncertain. */
  rank: number;
  score: number;
  /** [x, y, w, h] in level-0 pixels. */
  box: [number, number, number, number];
  /** Pyramid level the pixels were read from. */
  level: number;
  /** Level-0 pixels per analysis pixel. */
  downsample: number;
  /** Edge of the square patch in analysis pixels. */
  patchSize: number;
  classes: ModelClassInfo[];
  /** patchSize * patchSize class indices, IGNORE_LABEL = ignore. */
  mask: Uint8Array;
  /** patchSize * patchSize * 4 RGBA of the slide patch. */
  image: Uint8ClampedArray;
  status: CorrectionStatus;
}

/** Everything the manifest records about one suggestion run. */
export interface SuggestionRun {
  slide: { path: string; width: number; height: number; mpp: number | null };
  /** path: workspace path of model.json, or '' for the default model. */
  model: { path: string; hash: string; name: string; version: string };
  analysis: {
    T: number;
    strategy: string;
    patchSize: number;
    mpp: number | null;
    level: number;
    downsample: number;
  };
  classes: ModelClassInfo[];
  /** status 'suggested'; mask = the model's prediction. */
  patches: Correction[];
}

/** Save state of one patch in the panel. */
export type SaveState = 'saved' | 'saving' | 'unsaved';

export interface CorrectionsChange {
  /** Patch ids whose status, mask or save state changed; empty = everything. */
  ids: string[];
}

/**
 * The slide's `<slide>.uga/` folder, read and written through the Contents
 * API (see docs/corrections-format.md). Implemented in workspace/.
 */
export interface ICorrectionsStore {
  /** Workspace path of the `<slide>.uga` folder. */
  readonly folder: string;
  /** Patches known to the panel, rank order. */
  readonly patches: readonly Correction[];
  saveState(id: string): SaveState;
  /** Last error of an unsaved patch, meant for the user. */
  saveError(id: string): string | null;
  readonly changed: ISignal<ICorrectionsStore, CorrectionsChange>;
}

/** What a panel asks the engine service for. */
export interface EngineRequest {
  backend: BackendName | 'auto';
  /** URL of a model.json; empty = the default model shipped with the extension. */
  modelUrl: string;
  /** Fetch for workspace models (authenticated); the default model is a static file. */
  fetchFunc?: typeof fetch;
  samples: number;
}

/** A panel's hold on a loaded model and engine; release() when done with it. */
export interface IEngineLease {
  readonly engine: IUncertaintyEngine;
  readonly backend: BackendName;
  /** One line for the UI: why this backend (e.g. "auto: WebGPU adapter is SwiftShader (software), WASM 2.1x faster than CPU"). */
  readonly backendReason: string;
  readonly modelUrl: string;
  release(): void;
}

/** One per page: backends start once, models are shared by key and reference-counted. */
export interface IEngineService {
  acquire(request: EngineRequest, onStage?: (text: string) => void): Promise<IEngineLease>;
}
