/**
 * Tokens and interfaces shared by the extension's plugins. Interfaces only:
 * no concrete widget, model or service is imported here, so that a Worker
 * proxy, the editor and the workspace can implement or consume them.
 */
import { Token } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';
import type { IWidgetTracker } from '@jupyterlab/apputils';
import type { IDocumentWidget } from '@jupyterlab/docregistry';
import type Konva from 'konva';
import type { SlideSource } from './slide/types';
import type { RegionResult, RegionTileResult } from './engine/region';
import type { SuggestedPatch, SuggestStrategy } from './uncertainty/suggestions';
import type { BackendName } from './engine/backends';
import type { ModelClassInfo, ModelMetadata } from './engine/model';
import type { UncertaintyMaps } from './uncertainty/maps';

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
  export const analyzeSelection = 'uga:analyze-selection';
  export const cancelAnalysis = 'uga:cancel-analysis';
  export const clearAnalysis = 'uga:clear-analysis';
  export const nextSuggestion = 'uga:next-suggestion';
  export const previousSuggestion = 'uga:previous-suggestion';
  export const correctSuggestion = 'uga:correct-suggestion';
  export const skipSuggestion = 'uga:skip-suggestion';
  export const retrySave = 'uga:retry-save';
  export const exportGeoJSON = 'uga:export-geojson';
  export const importGeoJSON = 'uga:import-geojson';
  export const fineTune = 'uga:fine-tune';
  export const cancelFineTune = 'uga:cancel-fine-tune';
  export const switchModel = 'uga:switch-model';
  export const chooseGroundTruth = 'uga:choose-ground-truth';
  export const fillFromGroundTruth = 'uga:editor-fill-from-truth';
}

export type BackendChoice = 'auto' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** User settings of the slide panel; the schema (src/schema/plugin.json) is the one source of the defaults. */
export interface ISlideSettings {
  tileCacheMB: number;
  maxConcurrentRequests: number;
  showOverview: boolean;
  showScaleBar: boolean;
  backend: BackendChoice;
  mcSamples: number;
  scoreStrategy: SuggestStrategy;
  /** Edge of a suggested patch in analysis (model) pixels. */
  patchSize: number;
  showHeatmap: boolean;
  showMask: boolean;
  maskStyle: 'fill' | 'outline';
  maskOpacity: number;
  showBoxes: boolean;
  heatmap: 'entropy' | 'mutual_information' | 'std';
  heatmapOpacity: number;
  modelPath: string;
  /** Seconds between looks for new model versions in the slide's folder; 0 = off. */
  modelWatchSeconds: number;
  suggestions: number;
}

/** A pointer position handed to a viewer tool. */
export interface IPointerInfo {
  /** Level-0 pixels. */
  x: number;
  y: number;
  /** Pixels from the top-left of the viewer. */
  screenX: number;
  screenY: number;
  event: PointerEvent;
}

/**
 * A tool that takes the primary button's pointer input on the slide (drawing,
 * selecting). Pan with the middle button or Space + drag and wheel zoom stay
 * with the viewer while a tool is active.
 */
export interface IPointerTool {
  /** CSS cursor over the slide while the tool is active. */
  readonly cursor?: string;
  onPointerDown(p: IPointerInfo): void;
  onPointerMove(p: IPointerInfo): void;
  onPointerUp(p: IPointerInfo): void;
  /** The tool was replaced or the gesture cancelled (e.g. pointercancel). */
  onDeactivate?(): void;
}

export interface ViewRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** What other stages may do with a slide panel's viewer. */
export interface ISlideViewer {
  readonly source: SlideSource;
  readonly stage: Konva.Stage;
  /** Current view: `scale` screen px per level-0 px, `x`/`y` the translation. */
  readonly view: { scale: number; x: number; y: number };
  /** A Konva layer in level-0 coordinates above the tiles. */
  addOverlayLayer(name: string): Konva.Layer;
  removeOverlayLayer(layer: Konva.Layer): void;
  /** The level-0 rectangle on screen, clipped to the slide. */
  visibleRect(): ViewRect;
  showRect(x: number, y: number, width: number, height: number): void;
  /** Route the primary button to `tool` (null = drag pans again). */
  setPointerTool(tool: IPointerTool | null): void;
  readonly pointerTool: IPointerTool | null;
}

export type SlideStatus = 'loading' | 'ready' | 'error';
export type MessageKind = 'error' | 'warning' | 'info';

export type AnalysisState = 'idle' | 'running' | 'done' | 'cancelled' | 'error';

export interface AnalysisProgress {
  /** 0..1, or null while the amount of work is not known yet. */
  fraction: number | null;
  text: string;
}

export interface AnalysisSummary {
  backend: string;
  backendReason: string;
  samples: number;
  hasDropout: boolean;
  tiles: number;
  analyzedTiles: number;
  seconds: number;
  /** True when the run was cancelled and the result covers only the tiles analysed until then. */
  partial: boolean;
  /** Said in the UI when the analysis ran at slide pixels because the slide has no pixel size. */
  notes: string[];
}

export interface AnalysisResult {
  region: RegionResult;
  summary: AnalysisSummary;
  suggestions: SuggestedPatch[];
  /** Model metadata the run used. */
  model: IEngineModelInfo;
  /** URL of the model.json the run used. */
  modelUrl: string;
  /** Map pixels that are analysed tissue (1) — the heatmap and suggestions keep to them. */
  onTissue: Uint8Array;
}

/**
 * Uncertainty analysis of one slide: state, progress and result as signals.
 * No DOM, no Konva: views (heatmap layer, queue, progress) listen to it.
 */
export interface IAnalysisModel extends IDisposable {
  readonly state: AnalysisState;
  readonly stateChanged: ISignal<IAnalysisModel, AnalysisState>;
  readonly progress: AnalysisProgress | null;
  readonly progressChanged: ISignal<IAnalysisModel, AnalysisProgress | null>;
  /** Each analysed tile as it streams in (heatmaps draw progressively). */
  readonly tileAnalyzed: ISignal<IAnalysisModel, RegionTileResult>;
  readonly result: AnalysisResult | null;
  readonly resultChanged: ISignal<IAnalysisModel, AnalysisResult | null>;
  /** A line for the user about the last run (errors, notes), or null. */
  readonly message: { text: string; kind: MessageKind } | null;
  /** Analyse a level-0 rectangle (default: what the viewer shows). */
  analyze(rect?: ViewRect, overrides?: Partial<ISlideSettings>): Promise<void>;
  cancel(): void;
  clear(): void;
}

/** One suggested patch in the review queue. */
export interface ReviewItem {
  readonly suggestion: SuggestedPatch;
  readonly status: CorrectionStatus;
  /** Pixels and mask of the patch once known: the accepted correction, or one restored from the workspace. */
  readonly correction: Correction | null;
}

/**
 * The queue of patches a person reviews: ranked suggestions and their state.
 * The editor and the workspace both work through it.
 */
export interface IReviewModel {
  readonly items: readonly ReviewItem[];
  /** Emitted with the ranks that changed; an empty list = the whole queue. */
  readonly changed: ISignal<IReviewModel, number[]>;
  /** Rank of the patch in focus, or null. */
  readonly current: number | null;
  readonly currentChanged: ISignal<IReviewModel, number | null>;
  item(rank: number): ReviewItem | null;
  setCurrent(rank: number | null): void;
  /** Replace the queue (a new analysis, or a restore from the workspace). */
  reset(items: ReviewItem[]): void;
  setStatus(rank: number, status: CorrectionStatus, correction?: Correction | null): void;
  /** Next / previous item still 'suggested' after / before the current one (wraps), or null. */
  nextOpen(direction: 1 | -1): number | null;
}

/**
 * Everything about one open slide that later stages plug into: the viewer,
 * the settings, the analysis, and (set by their plugins) the corrections.
 */
export interface ISlideSession extends IDisposable {
  readonly path: string;
  readonly status: SlideStatus;
  readonly statusChanged: ISignal<ISlideSession, SlideStatus>;
  /** Resolves when the slide is open and drawn; rejects with the error shown. */
  readonly ready: Promise<void>;
  readonly source: SlideSource | null;
  readonly viewer: ISlideViewer | null;
  readonly settings: ISlideSettings;
  readonly settingsChanged: ISignal<ISlideSession, ISlideSettings>;
  /** Settings for this panel only (the registry's reach every panel). */
  updateSettings(settings: Partial<ISlideSettings>): void;
  readonly analysis: IAnalysisModel;
  readonly review: IReviewModel;
  /** The `<slide>.uga` folder, once a workspace plugin attached one. */
  corrections: ICorrectionsStore | null;
  readonly correctionsChanged: ISignal<ISlideSession, ICorrectionsStore | null>;
  /** /files/ URL of the slide or of another workspace path. */
  fileUrl(path?: string): string;
  /** fetch that authenticates like ServerConnection (token, XSRF, cookies). */
  readonly serverFetch: typeof fetch;
  showMessage(text: string, kind: MessageKind): void;
}

/** The content of a slide document. */
export interface ISlidePanel extends Widget {
  readonly session: ISlideSession;
  /** Add a widget beside the viewer (e.g. the suggestion queue). */
  addSideWidget(widget: Widget): void;
  /** An element over the viewer for transient views (progress). */
  readonly overlayNode: HTMLElement;
}

export type ISlideTracker = IWidgetTracker<IDocumentWidget<ISlidePanel>>;

/** Token for the tracker of open slide panels (later plugins: editor, workspace). */
export const ISlideTracker = new Token<ISlideTracker>('jupyterlab-uga:ISlideTracker', 'Tracks the open whole-slide image panels.');

/** Token for the page's engine service (one tfjs runtime, shared models). */
export const IEngineService = new Token<IEngineService>(
  'jupyterlab-uga:IEngineService',
  'Loads segmentation models and runs MC-dropout uncertainty.'
);

// ---------------------------------------------------------------------------
// Contracts between the stages (interfaces only; implementations live in
// engine/, editor/, workspace/). Fixed here so that a Worker proxy, the
// editor and the workspace writer can be built side by side.
// ---------------------------------------------------------------------------

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
