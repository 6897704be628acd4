import { Widget } from '@lumino/widgets';
import { Message } from '@lumino/messaging';
import { Signal, ISignal } from '@lumino/signaling';
import { PromiseDelegate } from '@lumino/coreutils';
import { PathExt, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { openSlide } from '../slide/open';
import { toSlideError } from '../slide/errors';
import type { SlideSource } from '../slide/types';
import { SlideViewer, SlideViewerOptions, ViewerStatus } from './SlideViewer';
import { DEFAULT_SETTINGS, ISlideSettings } from '../tokens';

export type SlidePanelStatus = 'loading' | 'ready' | 'error';

/**
 * The content of a slide document: opens the file over `/files/` with range
 * requests (never through the document context, which would load it whole)
 * and shows it in a `SlideViewer`.
 */
export class SlidePanel extends Widget {
  constructor(options: SlidePanel.IOptions) {
    super();
    this.addClass('jp-uga-SlidePanel');
    this.node.tabIndex = 0;
    this._context = options.context;
    this._settings = { ...DEFAULT_SETTINGS, ...options.settings };
    this._serverSettings = options.serverSettings ?? ServerConnection.makeSettings();

    this._viewerHost = document.createElement('div');
    this._viewerHost.className = 'jp-uga-SlidePanel-viewer';
    this._statusLine = document.createElement('div');
    this._statusLine.className = 'jp-uga-SlidePanel-status';
    this._statusLine.setAttribute('aria-live', 'polite');
    this._message = document.createElement('div');
    this._message.className = 'jp-uga-SlidePanel-message';
    this.node.append(this._viewerHost, this._message, this._statusLine);
    this._setStatus('loading', 'Opening slide…');

    this.node.addEventListener('keydown', this._onKeyDown);
    void this._context.ready.then(() => this._open()).catch(e => this._fail(e));
  }

  /** `loading` | `ready` | `error`, mirrored on the node as `data-uga-status`. */
  get status(): SlidePanelStatus {
    return this._status;
  }
  get statusChanged(): ISignal<this, SlidePanelStatus> {
    return this._statusChangedSignal;
  }
  get viewer(): SlideViewer | null {
    return this._viewer;
  }
  get source(): SlideSource | null {
    return this._source;
  }
  get path(): string {
    return this._context.path;
  }
  /** Resolves when the slide opened (or rejects with the error shown). */
  get ready(): Promise<void> {
    return this._ready.promise;
  }

  updateSettings(settings: Partial<ISlideSettings>): void {
    this._settings = { ...this._settings, ...settings };
    this._viewer?.setOptions(this._viewerOptions());
  }

  private _viewerOptions(): SlideViewerOptions {
    const s = this._settings;
    return {
      cacheBytes: s.tileCacheMB * 1024 * 1024,
      maxConcurrentRequests: s.maxConcurrentRequests,
      showOverview: s.showOverview,
      showScaleBar: s.showScaleBar
    };
  }

  get settings(): ISlideSettings {
    return this._settings;
  }

  /** URL of the slide (or of another workspace path) on the server's /files/ endpoint. */
  fileUrl(path = this._context.path): string {
    return URLExt.join(this._serverSettings.baseUrl, 'files', URLExt.encodeParts(path));
  }

  /** fetch that authenticates the way ServerConnection does (token, XSRF, cookies). */
  serverFetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return ServerConnection.makeRequest(url, init ?? {}, this._serverSettings);
  };

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._openAbort.abort();
    this._viewer?.dispose();
    this._source?.dispose();
    this.node.removeEventListener('keydown', this._onKeyDown);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._viewer?.resize();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    this._viewer?.resize();
  }

  protected onActivateRequest(msg: Message): void {
    this.node.focus();
  }

  private async _open(): Promise<void> {
    const name = PathExt.basename(this._context.path);
    // The viewer keeps the decoded-tile cache; the source needs none of its own.
    const source = await openSlide(this.fileUrl(), {
      name,
      fetch: this.serverFetch,
      signal: this._openAbort.signal,
      cacheBytes: 0
    });
    if (this.isDisposed) {
      source.dispose();
      return;
    }
    this._source = source;
    this._viewer = new SlideViewer(this._viewerHost, source, this._viewerOptions());
    this._viewer.statusChanged.connect(this._onViewerStatus, this);
    let firstTileError: unknown = null;
    this._viewer.tileFailed.connect((_, err) => {
      firstTileError = firstTileError ?? err;
      // A file that changed or vanished while open cannot be shown any more.
      if (err.kind === 'changed' || err.kind === 'not-found' || err.kind === 'unauthorized') {
        this._fail(err);
      } else {
        this.showMessage(`Some tiles could not be read: ${err.message}`, 'warning');
      }
    });
    const settled = new Promise<void>(resolve => {
      const once = () => {
        this._viewer?.viewSettled.disconnect(once);
        resolve();
      };
      this._viewer!.viewSettled.connect(once);
    });
    this._viewer.resize();
    await settled;
    if (this._viewer.loadedCount === 0 && firstTileError) {
      // Nothing at all could be drawn (e.g. a truncated file): that is an error, not a view.
      this._fail(firstTileError);
      return;
    }
    if (this._status !== 'error') {
      this._setStatus('ready');
      this._ready.resolve();
    }
  }

  private _onViewerStatus(_: SlideViewer, s: ViewerStatus): void {
    const info = this._source?.info;
    if (!info) {
      return;
    }
    const parts = [
      `Level ${s.level}/${info.levels.length - 1} (×${+s.downsample.toFixed(2)})`,
      `Zoom ${s.zoom}`,
      s.cursor ? `x ${s.cursor[0]}, y ${s.cursor[1]}` : `${info.width} × ${info.height} px`
    ];
    if (info.mppX) {
      parts.push(`${+info.mppX.toFixed(4)} µm/px`);
    }
    if (s.tilesLoading > 0) {
      parts.push(`loading ${s.tilesLoading} tiles`);
    }
    this._statusLine.textContent = parts.join(' · ');
  }

  private _fail(e: unknown): void {
    if (this.isDisposed) {
      return;
    }
    const err = toSlideError(e);
    if (err.kind === 'aborted') {
      return;
    }
    console.warn(`Slide ${this._context.path}:`, err);
    this.showMessage(`Cannot show ${PathExt.basename(this._context.path)}: ${err.message}`, 'error');
    this._setStatus('error');
    this._ready.reject(err);
  }

  /** Show a message over the view (empty text hides it); errors and warnings are alerts. */
  showMessage(text: string, kind: 'error' | 'warning' | 'info'): void {
    this._message.textContent = text;
    this._message.dataset.kind = kind;
    this._message.setAttribute('role', kind === 'info' ? 'status' : 'alert');
    this._message.style.display = text ? '' : 'none';
  }

  private _setStatus(status: SlidePanelStatus, message?: string): void {
    this._status = status;
    this.node.dataset.ugaStatus = status;
    if (status === 'loading') {
      this.showMessage(message ?? '', 'info');
    } else if (status === 'ready') {
      this.showMessage('', 'info');
    }
    this._statusChangedSignal.emit(status);
  }

  private _onKeyDown = (ev: KeyboardEvent): void => {
    const viewer = this._viewer;
    if (!viewer || ev.target !== this.node) {
      return;
    }
    const step = 80;
    let handled = true;
    switch (ev.key) {
      case 'ArrowLeft':
        viewer.panBy(step, 0);
        break;
      case 'ArrowRight':
        viewer.panBy(-step, 0);
        break;
      case 'ArrowUp':
        viewer.panBy(0, step);
        break;
      case 'ArrowDown':
        viewer.panBy(0, -step);
        break;
      case '+':
      case '=':
        viewer.zoomIn();
        break;
      case '-':
      case '_':
        viewer.zoomOut();
        break;
      case '0':
      case 'f':
        viewer.zoomToFit();
        break;
      case '1':
        viewer.zoomToActual();
        break;
      default:
        handled = false;
    }
    if (handled) {
      ev.preventDefault();
      ev.stopPropagation();
    }
  };

  private _context: DocumentRegistry.Context;
  private _settings: ISlideSettings;
  private _serverSettings: ServerConnection.ISettings;
  private _viewerHost: HTMLDivElement;
  private _statusLine: HTMLDivElement;
  private _message: HTMLDivElement;
  private _viewer: SlideViewer | null = null;
  private _source: SlideSource | null = null;
  private _status: SlidePanelStatus = 'loading';
  private _statusChangedSignal = new Signal<this, SlidePanelStatus>(this);
  private _openAbort = new AbortController();
  private _ready = Private.settledLater();
}

export namespace SlidePanel {
  export interface IOptions {
    context: DocumentRegistry.Context;
    settings?: Partial<ISlideSettings>;
    serverSettings?: ServerConnection.ISettings;
  }
}

namespace Private {
  /** A deferred whose rejection is never "unhandled": the panel shows errors itself. */
  export function settledLater(): PromiseDelegate<void> {
    const d = new PromiseDelegate<void>();
    d.promise.catch(() => undefined);
    return d;
  }
}
