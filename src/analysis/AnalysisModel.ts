import { ISignal, Signal } from '@lumino/signaling';
import { PathExt } from '@jupyterlab/coreutils';
import type { RegionTileResult } from '../engine/region';
import { readSettings } from '../settings';
import type {
  AnalysisProgress,
  AnalysisResult,
  AnalysisState,
  IAnalysisModel,
  IEngineLease,
  IEngineService,
  ISlideSession,
  ISlideSettings,
  MessageKind,
  ViewRect
} from '../tokens';

/** Most model-resolution tiles one analysis may cover (keeps runs bounded). */
export const MAX_TILES = 2048;

/** A message meant for the user as it is. */
export class AnalysisInputError extends Error {}

/** What the model reads from its session: enough to test it without a panel. */
export type AnalysisSessionView = Pick<ISlideSession, 'path' | 'source' | 'viewer' | 'settings' | 'fileUrl' | 'serverFetch'>;

/**
 * Runs the uncertainty engine over a region of a slide: acquires an engine
 * from the page's service, streams tiles, then ranks patches. State,
 * progress and results are signals; drawing is left to the views.
 */
export class AnalysisModel implements IAnalysisModel {
  constructor(options: AnalysisModel.IOptions) {
    this._session = options.session;
    this._engines = options.engines;
  }

  get state(): AnalysisState {
    return this._state;
  }
  get stateChanged(): ISignal<this, AnalysisState> {
    return this._stateChanged;
  }
  get progress(): AnalysisProgress | null {
    return this._progress;
  }
  get progressChanged(): ISignal<this, AnalysisProgress | null> {
    return this._progressChanged;
  }
  get tileAnalyzed(): ISignal<this, RegionTileResult> {
    return this._tileAnalyzed;
  }
  get result(): AnalysisResult | null {
    return this._result;
  }
  get resultChanged(): ISignal<this, AnalysisResult | null> {
    return this._resultChanged;
  }
  get message(): { text: string; kind: MessageKind } | null {
    return this._message;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  async analyze(rect?: ViewRect, overrides: Partial<ISlideSettings> = {}): Promise<void> {
    const session = this._session;
    const source = session.source;
    const viewer = session.viewer;
    if (!source || this._state === 'running' || this._disposed) {
      return;
    }
    const settings = readSettings({ ...session.settings, ...definedOnly(overrides) });
    const region = rect ?? viewer?.visibleRect();
    this.clear();
    if (!region || region.width < 1 || region.height < 1) {
      this._setMessage('Nothing of the slide is in view.', 'warning');
      return;
    }
    const abort = new AbortController();
    this._abort = abort;
    const signal = abort.signal;
    this._setState('running');
    this._setProgress({ fraction: null, text: 'Preparing…' });
    const started = performance.now();
    let lease: IEngineLease | null = null;
    try {
      const modelUrl = settings.modelPath ? session.fileUrl(settings.modelPath) : '';
      lease = await this._engines.acquire(
        {
          backend: settings.backend,
          modelUrl,
          // Workspace models come through the authenticated server; the default one is a static file.
          fetchFunc: modelUrl ? session.serverFetch : undefined,
          samples: settings.mcSamples
        },
        text => this._setProgress({ fraction: null, text })
      );
      signal.throwIfAborted();
      const engine = lease.engine;
      const meta = engine.model.metadata;
      const { analyzeRegion, modelScale } = await import('../engine/region');
      const notes: string[] = [];
      if (!meta.mpp || !source.info.mppX) {
        notes.push(
          !source.info.mppX
            ? 'The slide declares no pixel size: analysed at level-0 pixels, which may not match the model’s training resolution.'
            : 'The model declares no pixel size: analysed at level-0 pixels.'
        );
      }
      if (!engine.model.hasDropout) {
        notes.push('This model has no Dropout layer: the heatmap is the entropy of a single pass, not MC-dropout uncertainty.');
      }
      const scale = modelScale(meta.mpp, source.info.mppX);
      const patch = engine.model.inputShape[0];
      const tiles = Math.ceil(region.width / scale / patch) * Math.ceil(region.height / scale / patch);
      if (tiles > MAX_TILES) {
        throw new AnalysisInputError(
          `The region holds about ${tiles} patches at the model's ${meta.mpp ?? '?'} µm/px; zoom in to at most ${MAX_TILES} and analyse again.`
        );
      }
      const label = `${lease.backend} (T = ${engine.samples})`;
      const result = await analyzeRegion(source, region, engine, {
        signal,
        onProgress: p =>
          this._setProgress({
            fraction: p.total ? p.done / p.total : 0,
            text: `Analysing ${p.done}/${p.total} tiles on ${label}`
          }),
        onTile: tile => this._tileAnalyzed.emit(tile),
        keepPartialOnAbort: true
      });
      const onTissue = new Uint8Array(result.covered.length);
      for (let i = 0; i < onTissue.length; i++) {
        onTissue[i] = result.covered[i] & result.tissue[i];
      }
      const { suggestPatchesOffThread } = await import('../uncertainty/suggestOffThread');
      // The patch must fit in the analysed map; a smaller map gives one partial patch.
      const suggestions = await suggestPatchesOffThread(result.maps, {
        strategy: settings.scoreStrategy,
        patchSize: settings.patchSize,
        count: settings.suggestions,
        origin: { x: region.x, y: region.y },
        scale: result.scale,
        foregroundClass: meta.foregroundClass,
        covered: onTissue,
        uncertainty: settings.heatmap === 'mutual_information' ? 'mutual_information' : 'entropy',
        bounds: slideBounds(region, result.scale, source.info.width, source.info.height),
        // Unique per run: a new run never reuses the id of a patch reviewed in an earlier one.
        idPrefix: `${PathExt.basename(session.path)
          .replace(/[^A-Za-z0-9_.-]/g, '_')
          .replace(/^[^A-Za-z0-9]+/, '')
          .slice(0, 80)}-${runStamp()}-`
      });
      if (this._disposed) {
        return;
      }
      this._result = {
        region: result,
        suggestions,
        onTissue,
        model: engine.model,
        modelUrl: lease.modelUrl,
        summary: {
          backend: lease.backend,
          backendReason: lease.backendReason,
          samples: engine.samples,
          hasDropout: engine.model.hasDropout,
          tiles: result.tiles.length,
          analyzedTiles: result.tiles.filter(t => t.analyzed).length,
          seconds: (performance.now() - started) / 1000,
          partial: result.partial,
          notes
        }
      };
      this._setProgress(null);
      if (result.partial) {
        const analysed = result.tiles.filter(t => t.analyzed).length;
        const wanted = result.tiles.filter(t => t.analyzed || t.tissueFraction >= 0.05).length;
        notes.unshift(`Analysis cancelled: the heatmap and suggestions cover the ${analysed} of ${wanted} tissue tiles analysed so far.`);
      }
      this._setMessage(notes.join(' '), result.partial ? 'warning' : 'info');
      this._resultChanged.emit(this._result);
      this._setState(result.partial ? 'cancelled' : 'done');
    } catch (e) {
      this._setProgress(null);
      if (signal.aborted || (e instanceof Error && e.name === 'AbortError')) {
        this._setMessage('Analysis cancelled.', 'info');
        this._setState('cancelled');
      } else {
        const msg = e instanceof Error ? e.message : String(e);
        this._setMessage(`Uncertainty analysis failed: ${msg}`, 'error');
        this._setState('error');
      }
    } finally {
      lease?.release();
      if (this._abort === abort) {
        this._abort = null;
      }
    }
  }

  cancel(): void {
    this._abort?.abort();
  }

  clear(): void {
    const had = this._result !== null;
    this._result = null;
    this._setMessage('', 'info');
    if (had) {
      this._resultChanged.emit(null);
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.cancel();
    Signal.clearData(this);
  }

  private _setState(state: AnalysisState): void {
    this._state = state;
    this._stateChanged.emit(state);
  }

  private _setProgress(p: AnalysisProgress | null): void {
    this._progress = p;
    this._progressChanged.emit(p);
  }

  private _setMessage(text: string, kind: MessageKind): void {
    this._message = text ? { text, kind } : null;
    (this._session as Partial<ISlideSession>).showMessage?.(text, kind);
  }

  private _session: AnalysisSessionView;
  private _engines: IEngineService;
  private _state: AnalysisState = 'idle';
  private _progress: AnalysisProgress | null = null;
  private _result: AnalysisResult | null = null;
  private _message: { text: string; kind: MessageKind } | null = null;
  private _abort: AbortController | null = null;
  private _disposed = false;
  private _stateChanged = new Signal<this, AnalysisState>(this);
  private _progressChanged = new Signal<this, AnalysisProgress | null>(this);
  private _tileAnalyzed = new Signal<this, RegionTileResult>(this);
  private _resultChanged = new Signal<this, AnalysisResult | null>(this);
}

export namespace AnalysisModel {
  export interface IOptions {
    session: AnalysisSessionView & Partial<Pick<ISlideSession, 'showMessage'>>;
    engines: IEngineService;
  }
}

/** A short, sortable stamp of the current time (base 36 seconds). */
function runStamp(): string {
  return Math.floor(Date.now() / 1000).toString(36);
}

/** The part of the region's map that lies on the slide (map pixels). */
function slideBounds(region: ViewRect, scale: number, width: number, height: number) {
  const x0 = Math.max(0, Math.ceil(-region.x / scale));
  const y0 = Math.max(0, Math.ceil(-region.y / scale));
  const x1 = Math.floor((Math.min(width, region.x + region.width) - region.x) / scale);
  const y1 = Math.floor((Math.min(height, region.y + region.height) - region.y) / scale);
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
