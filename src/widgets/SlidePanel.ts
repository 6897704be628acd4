import { BoxLayout, Panel, SplitPanel, Widget } from '@lumino/widgets';
import { Message } from '@lumino/messaging';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { ServerConnection } from '@jupyterlab/services';
import { SlideSession } from '../session/SlideSession';
import type { SlideViewer } from './SlideViewer';
import type { SlideSource } from '../slide/types';
import type { IEngineService, ISlidePanel, ISlideSettings, MessageKind, SlideStatus } from '../tokens';

/**
 * The content of a slide document: the view of a `SlideSession` — the
 * viewer, a side area for the suggestion queue, a message line over the view
 * and a status line. Opening never goes through the document context, which
 * would load the whole file: the session reads it with range requests.
 */
export class SlidePanel extends Widget implements ISlidePanel {
  constructor(options: SlidePanel.IOptions) {
    super();
    this.addClass('jp-uga-SlidePanel');
    this.node.tabIndex = 0;
    this._context = options.context;
    this.session = new SlideSession({
      path: options.context.path,
      engines: options.engines,
      settings: options.settings,
      serverSettings: options.serverSettings
    });

    this._viewerWidget = new Widget();
    this._viewerWidget.addClass('jp-uga-SlidePanel-viewer');
    this._message = document.createElement('div');
    this._message.className = 'jp-uga-SlidePanel-message';
    this._message.setAttribute('aria-live', 'polite');
    this.overlayNode = document.createElement('div');
    this.overlayNode.className = 'jp-uga-SlidePanel-overlay';
    this._viewerWidget.node.append(this._message, this.overlayNode);

    this._main = new Panel();
    this._main.addClass('jp-uga-SlidePanel-main');
    this._main.addWidget(this._viewerWidget);
    this._side = new Panel();
    this._side.addClass('jp-uga-SlidePanel-side');
    this._side.hide();
    this._split = new SplitPanel({ orientation: 'horizontal', spacing: 1 });
    this._split.addClass('jp-uga-SlidePanel-split');
    this._split.addWidget(this._main);
    this._split.addWidget(this._side);
    SplitPanel.setStretch(this._main, 1);
    SplitPanel.setStretch(this._side, 0);

    this._statusLine = new Widget();
    this._statusLine.addClass('jp-uga-SlidePanel-status');
    this._statusLine.node.setAttribute('aria-live', 'polite');

    const layout = new BoxLayout({ direction: 'top-to-bottom', spacing: 0 });
    layout.addWidget(this._split);
    layout.addWidget(this._statusLine);
    BoxLayout.setStretch(this._split, 1);
    BoxLayout.setStretch(this._statusLine, 0);
    BoxLayout.setSizeBasis(this._statusLine, 22);
    this.layout = layout;

    const s = this.session;
    s.statusChanged.connect(this._onStatus, this);
    s.messageChanged.connect((_, m) => this._showMessage(m.text, m.kind), this);
    s.analysis.stateChanged.connect((_, state) => (this.node.dataset.ugaAnalysis = state), this);
    options.context.pathChanged.connect((_, path) => (s.path = path), this);
    this._onStatus(s, s.status);
    this.node.addEventListener('keydown', this._onKeyDown);
    void this._context.ready
      .then(() => s.open(this._viewerWidget.node))
      .then(() => this._connectViewer())
      .catch(e => s.fail(e));
  }

  readonly session: SlideSession;
  /** Element over the viewer for transient views (analysis progress). */
  readonly overlayNode: HTMLDivElement;

  get status(): SlideStatus {
    return this.session.status;
  }
  get viewer(): SlideViewer | null {
    return this.session.viewer;
  }
  get source(): SlideSource | null {
    return this.session.source;
  }
  get path(): string {
    return this.session.path;
  }
  get settings(): ISlideSettings {
    return this.session.settings;
  }
  get ready(): Promise<void> {
    return this.session.ready;
  }

  updateSettings(settings: Partial<ISlideSettings>): void {
    this.session.updateSettings(settings);
  }

  /** Add a widget to the side area (shown once it holds one). */
  addSideWidget(widget: Widget): void {
    this._side.addWidget(widget);
    if (this._side.isHidden) {
      this._side.show();
      // A third of the width for the side area, at most 360 px.
      const width = this.node.clientWidth || 900;
      const side = Math.min(360, Math.round(width / 3));
      this._split.setRelativeSizes([width - side, side]);
    }
  }

  /**
   * Show `widget` in place of the viewer (e.g. the correction editor); null
   * brings the viewer back. The viewer keeps its state meanwhile.
   */
  setMainWidget(widget: Widget | null): void {
    if (this._mainWidget === widget) {
      return;
    }
    if (this._mainWidget && !this._mainWidget.isDisposed) {
      // Detach through `parent`: layout.removeWidget leaves `parent` set, and a
      // later dispose() would then remove a wrong widget from the layout.
      this._mainWidget.parent = null;
    }
    this._mainWidget = widget;
    if (widget) {
      this._viewerWidget.hide();
      this._main.addWidget(widget);
      widget.activate();
    } else {
      this._viewerWidget.show();
      this.session.viewer?.resize();
      this.node.focus();
    }
  }

  get mainWidget(): Widget | null {
    return this._mainWidget;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.node.removeEventListener('keydown', this._onKeyDown);
    this.session.dispose();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.session.viewer?.resize();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this.session.viewer?.resize();
  }

  protected onActivateRequest(msg: Message): void {
    if (this._mainWidget) {
      this._mainWidget.activate();
    } else {
      this.node.focus();
    }
  }

  private _connectViewer(): void {
    const viewer = this.session.viewer;
    if (!viewer) {
      return;
    }
    const render = (st: typeof viewer.status) => {
      const info = this.session.source?.info;
      if (!info) {
        return;
      }
      const parts = [
        `Level ${st.level}/${info.levels.length - 1} (×${+st.downsample.toFixed(2)})`,
        `Zoom ${st.zoom}`,
        st.cursor ? `x ${st.cursor[0]}, y ${st.cursor[1]}` : `${info.width} × ${info.height} px`
      ];
      if (info.mppX) {
        parts.push(`${+info.mppX.toFixed(4)} µm/px`);
      }
      if (st.tilesLoading > 0) {
        parts.push(`loading ${st.tilesLoading} tiles`);
      }
      this._statusLine.node.textContent = parts.join(' · ');
    };
    // The first view is drawn before this runs: show its status at once, then follow changes.
    render(viewer.status);
    viewer.statusChanged.connect((_, st) => render(st), this);
  }

  private _onStatus(_: unknown, status: SlideStatus): void {
    this.node.dataset.ugaStatus = status;
  }

  /** Show a message over the view (empty text hides it); errors and warnings are alerts. */
  showMessage(text: string, kind: MessageKind): void {
    this.session.showMessage(text, kind);
  }

  private _showMessage(text: string, kind: MessageKind): void {
    this._message.textContent = text;
    this._message.dataset.kind = kind;
    this._message.setAttribute('role', kind === 'info' ? 'status' : 'alert');
    this._message.style.display = text ? '' : 'none';
  }

  private _onKeyDown = (ev: KeyboardEvent): void => {
    const viewer = this.session.viewer;
    if (!viewer || ev.target !== this.node || this._mainWidget) {
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
  private _viewerWidget: Widget;
  private _main: Panel;
  private _side: Panel;
  private _split: SplitPanel;
  private _statusLine: Widget;
  private _message: HTMLDivElement;
  private _mainWidget: Widget | null = null;
}

export namespace SlidePanel {
  export interface IOptions {
    context: DocumentRegistry.Context;
    engines: IEngineService;
    settings?: Partial<ISlideSettings>;
    serverSettings?: ServerConnection.ISettings;
  }
}
