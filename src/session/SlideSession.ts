import { PromiseDelegate } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';
import { PathExt, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { openSlide } from '../slide/open';
import { toSlideError } from '../slide/errors';
import type { SlideSource } from '../slide/types';
import { AnalysisModel } from '../analysis/AnalysisModel';
import { ReviewModel } from './ReviewModel';
import { SlideViewer } from '../widgets/SlideViewer';
import { readSettings } from '../settings';
import type { IAnalysisModel, ICorrectionsStore, IEngineService, ISlideSession, ISlideSettings, MessageKind, SlideStatus } from '../tokens';

/**
 * One open slide: opens the file over /files/ with range requests, holds the
 * viewer, the settings, the analysis model and (when a workspace plugin sets
 * it) the corrections store. The panel is only its view.
 */
export class SlideSession implements ISlideSession {
  constructor(options: SlideSession.IOptions) {
    this._path = options.path;
    this._settings = readSettings(options.settings ?? {});
    this._serverSettings = options.serverSettings ?? ServerConnection.makeSettings();
    this.analysis = new AnalysisModel({ session: this, engines: options.engines });
    // A new result is a new queue (a workspace plugin may restore states over it).
    this.analysis.resultChanged.connect((_, result) => {
      this.review.reset((result?.suggestions ?? []).map(suggestion => ({ suggestion, status: 'suggested', correction: null })));
    });
    this._ready.promise.catch(() => undefined);
  }

  readonly analysis: IAnalysisModel;
  readonly review = new ReviewModel();

  get path(): string {
    return this._path;
  }
  /** The document was renamed or moved. */
  set path(value: string) {
    this._path = value;
  }
  get status(): SlideStatus {
    return this._status;
  }
  get statusChanged(): ISignal<this, SlideStatus> {
    return this._statusChanged;
  }
  get ready(): Promise<void> {
    return this._ready.promise;
  }
  get source(): SlideSource | null {
    return this._source;
  }
  get viewer(): SlideViewer | null {
    return this._viewer;
  }
  get settings(): ISlideSettings {
    return this._settings;
  }
  get settingsChanged(): ISignal<this, ISlideSettings> {
    return this._settingsChanged;
  }
  get corrections(): ICorrectionsStore | null {
    return this._corrections;
  }
  set corrections(value: ICorrectionsStore | null) {
    if (value !== this._corrections) {
      this._corrections = value;
      this._correctionsChanged.emit(value);
    }
  }
  get correctionsChanged(): ISignal<this, ICorrectionsStore | null> {
    return this._correctionsChanged;
  }
  /** The last message for the user (the panel shows it over the view). */
  get message(): { text: string; kind: MessageKind } {
    return this._message;
  }
  get messageChanged(): ISignal<this, { text: string; kind: MessageKind }> {
    return this._messageChanged;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  updateSettings(settings: Partial<ISlideSettings>): void {
    this._settings = readSettings({ ...this._settings, ...settings });
    this._viewer?.setOptions(viewerOptions(this._settings));
    this._settingsChanged.emit(this._settings);
  }

  fileUrl(path = this._path): string {
    return URLExt.join(this._serverSettings.baseUrl, 'files', URLExt.encodeParts(path));
  }

  readonly serverFetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return ServerConnection.makeRequest(url, init ?? {}, this._serverSettings);
  };

  showMessage(text: string, kind: MessageKind): void {
    this._message = { text, kind };
    this._messageChanged.emit(this._message);
  }

  /** Open the slide and create its viewer in `host`; resolves once the first view is drawn. */
  async open(host: HTMLElement): Promise<void> {
    this._setStatus('loading');
    this.showMessage('Opening slide…', 'info');
    try {
      const source = await openSlide(this.fileUrl(), {
        name: PathExt.basename(this._path),
        fetch: this.serverFetch,
        signal: this._openAbort.signal,
        // The viewer keeps the decoded-tile cache; the source needs none of its own.
        cacheBytes: 0
      });
      if (this._disposed) {
        source.dispose();
        return;
      }
      this._source = source;
      const viewer = new SlideViewer(host, source, viewerOptions(this._settings));
      this._viewer = viewer;
      let firstTileError: unknown = null;
      viewer.tileFailed.connect((_, err) => {
        firstTileError = firstTileError ?? err;
        // A file that changed or vanished while open cannot be shown any more.
        if (err.kind === 'changed' || err.kind === 'not-found' || err.kind === 'unauthorized') {
          this.fail(err);
        } else {
          this.showMessage(`Some tiles could not be read: ${err.message}`, 'warning');
        }
      });
      const settled = new Promise<void>(resolve => {
        const once = () => {
          viewer.viewSettled.disconnect(once);
          resolve();
        };
        viewer.viewSettled.connect(once);
      });
      viewer.resize();
      await settled;
      if (viewer.loadedCount === 0 && firstTileError) {
        // Nothing at all could be drawn (e.g. a truncated file): that is an error, not a view.
        this.fail(firstTileError);
        return;
      }
      if (this._status !== 'error') {
        this.showMessage('', 'info');
        this._setStatus('ready');
        this._ready.resolve();
      }
    } catch (e) {
      this.fail(e);
    }
  }

  /** Show the error for good: the slide cannot be shown. */
  fail(e: unknown): void {
    if (this._disposed) {
      return;
    }
    const err = toSlideError(e);
    if (err.kind === 'aborted') {
      return;
    }
    console.warn(`Slide ${this._path}:`, err);
    this.showMessage(`Cannot show ${PathExt.basename(this._path)}: ${err.message}`, 'error');
    this._setStatus('error');
    this._ready.reject(err);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._openAbort.abort();
    this.analysis.dispose();
    this._viewer?.dispose();
    this._source?.dispose();
    Signal.clearData(this);
  }

  private _setStatus(status: SlideStatus): void {
    this._status = status;
    this._statusChanged.emit(status);
  }

  private _path: string;
  private _settings: ISlideSettings;
  private _serverSettings: ServerConnection.ISettings;
  private _status: SlideStatus = 'loading';
  private _source: SlideSource | null = null;
  private _viewer: SlideViewer | null = null;
  private _corrections: ICorrectionsStore | null = null;
  private _message: { text: string; kind: MessageKind } = { text: '', kind: 'info' };
  private _disposed = false;
  private _openAbort = new AbortController();
  private _ready = new PromiseDelegate<void>();
  private _statusChanged = new Signal<this, SlideStatus>(this);
  private _settingsChanged = new Signal<this, ISlideSettings>(this);
  private _correctionsChanged = new Signal<this, ICorrectionsStore | null>(this);
  private _messageChanged = new Signal<this, { text: string; kind: MessageKind }>(this);
}

export namespace SlideSession {
  export interface IOptions {
    path: string;
    engines: IEngineService;
    settings?: Partial<ISlideSettings>;
    serverSettings?: ServerConnection.ISettings;
  }
}

function viewerOptions(s: ISlideSettings) {
  return {
    cacheBytes: s.tileCacheMB * 1024 * 1024,
    maxConcurrentRequests: s.maxConcurrentRequests,
    showOverview: s.showOverview,
    showScaleBar: s.showScaleBar
  };
}
