import Konva from 'konva';
import { Signal, ISignal } from '@lumino/signaling';
import { chooseLevel, visibleTiles, TileRef } from '../slide/pyramid';
import { LruCache } from '../slide/cache';
import { toSlideError } from '../slide/errors';
import type { RegionPixels, SlideError, SlideSource } from '../slide/types';
import type { IPointerInfo, IPointerTool, ISlideViewer } from '../tokens';
import {
  ViewState,
  clampView,
  fitView,
  niceScaleBar,
  panBy,
  scaleLimits,
  screenToImage,
  viewportOf,
  zoomAt,
  zoomLabel
} from './viewTransform';

/** Tiles a level may need on screen before we refuse to load it (no coarse level). */
const MAX_TILES_PER_VIEW = 400;
const ZOOM_STEP = 1.5;

export interface SlideViewerOptions {
  cacheBytes: number;
  maxConcurrentRequests: number;
  showOverview: boolean;
  showScaleBar: boolean;
}

/** What the status line shows; also emitted for other plugins. */
export interface ViewerStatus {
  level: number;
  downsample: number;
  zoom: string;
  cursor: [number, number] | null;
  tilesLoading: number;
  message: string;
}

type TileImage = ImageBitmap | HTMLCanvasElement;

/**
 * Deep-zoom viewer of a `SlideSource` drawn with Konva.
 *
 * World coordinates of every layer are level-0 pixels; the view transform is
 * applied to each layer, so overlays added with `addOverlayLayer` (heatmaps,
 * masks, patch boxes) line up with the tiles without any bookkeeping.
 */
export class SlideViewer implements ISlideViewer {
  constructor(host: HTMLElement, source: SlideSource, options: SlideViewerOptions) {
    this._host = host;
    this._source = source;
    this._options = options;
    // Evicted bitmaps are closed (GPU memory), unless a node on screen still draws them.
    this._cache = new LruCache<TileImage>(options.cacheBytes, (image, key) => {
      if (this._nodes.get(key)?.image() === image) {
        this._evictedOnScreen.set(key, image);
      } else {
        closeImage(image);
      }
    });

    this._stageHost = document.createElement('div');
    this._stageHost.className = 'jp-uga-SlideViewer-stage';
    host.appendChild(this._stageHost);
    this._stage = new Konva.Stage({ container: this._stageHost, width: 1, height: 1 });
    this._tileLayer = new Konva.Layer({ listening: false, name: 'tiles' });
    this._coarseGroup = new Konva.Group();
    this._fineGroup = new Konva.Group();
    this._tileLayer.add(this._coarseGroup, this._fineGroup);
    this._stage.add(this._tileLayer);

    this._scaleBar = document.createElement('div');
    this._scaleBar.className = 'jp-uga-SlideViewer-scalebar';
    this._overview = document.createElement('canvas');
    this._overview.className = 'jp-uga-SlideViewer-overview';
    this._overview.title = 'Overview: click to move the view';
    this._notice = document.createElement('div');
    this._notice.className = 'jp-uga-SlideViewer-notice';
    host.append(this._scaleBar, this._overview, this._notice);

    this._bindEvents();
  }

  get source(): SlideSource {
    return this._source;
  }
  get view(): ViewState {
    return { ...this._view };
  }
  get stage(): Konva.Stage {
    return this._stage;
  }
  get statusChanged(): ISignal<this, ViewerStatus> {
    return this._statusChanged;
  }
  /** Emitted once all tiles of the current view are drawn. */
  get viewSettled(): ISignal<this, void> {
    return this._viewSettled;
  }
  /** Emitted when a tile fails to load (the view keeps going). */
  get tileFailed(): ISignal<this, SlideError> {
    return this._tileFailed;
  }
  get status(): ViewerStatus {
    return this._status;
  }
  /** Tiles decoded / failed since the viewer opened. */
  get loadedCount(): number {
    return this._loadedCount;
  }
  get failedCount(): number {
    return this._failed.size;
  }

  /**
   * A new Konva layer that follows the view transform, above the tiles.
   * Later stages (heatmap, masks, patch boxes, editor) draw in level-0 pixels.
   */
  addOverlayLayer(name: string): Konva.Layer {
    const layer = new Konva.Layer({ name });
    this._stage.add(layer);
    this._overlays.push(layer);
    this._applyTransform();
    return layer;
  }

  removeOverlayLayer(layer: Konva.Layer): void {
    this._overlays = this._overlays.filter(l => l !== layer);
    layer.destroy();
  }

  setOptions(options: Partial<SlideViewerOptions>): void {
    Object.assign(this._options, options);
    if (options.cacheBytes !== undefined) {
      this._cache.maxBytes = options.cacheBytes;
    }
    this._overview.style.display = this._options.showOverview ? '' : 'none';
    this._scaleBar.style.display = this._options.showScaleBar ? '' : 'none';
    this.update();
  }

  /** Call when the host changed size. */
  resize(): void {
    const width = Math.max(1, this._host.clientWidth);
    const height = Math.max(1, this._host.clientHeight);
    const first = !this._sized;
    this._overviewStroke = getComputedStyle(this._overview).getPropertyValue('--jp-brand-color1').trim() || '#1976d2';
    this._stage.size({ width, height });
    this._sized = true;
    if (first) {
      this.zoomToFit();
    } else {
      this.update();
    }
  }

  zoomToFit(): void {
    this._setView(fitView(this._source.info, this._viewSize()));
  }

  /** 100%: one screen pixel per level-0 pixel, around the view centre. */
  zoomToActual(): void {
    const s = this._viewSize();
    this._setView(zoomAt(this._view, 1 / this._view.scale, s.width / 2, s.height / 2));
  }

  zoomBy(factor: number, sx?: number, sy?: number): void {
    const s = this._viewSize();
    const limits = scaleLimits(this._source.info, s);
    this._setView(zoomAt(this._view, factor, sx ?? s.width / 2, sy ?? s.height / 2, limits));
  }

  zoomIn(): void {
    this.zoomBy(ZOOM_STEP);
  }

  zoomOut(): void {
    this.zoomBy(1 / ZOOM_STEP);
  }

  panBy(dx: number, dy: number): void {
    this._setView(panBy(this._view, dx, dy));
  }

  /** Centre the view on a level-0 point, optionally at a given scale. */
  centerOn(x: number, y: number, scale = this._view.scale): void {
    const s = this._viewSize();
    this._setView({ scale, x: x - s.width / 2 / scale, y: y - s.height / 2 / scale });
  }

  /** Show a level-0 rectangle as large as fits. */
  showRect(x: number, y: number, width: number, height: number): void {
    const s = this._viewSize();
    const scale = Math.min(s.width / width, s.height / height) * 0.9;
    this.centerOn(x + width / 2, y + height / 2, Math.min(scale, 8));
  }

  /** The level-0 rectangle currently on screen (clipped to the slide). */
  visibleRect(): { x: number; y: number; width: number; height: number } {
    const vp = viewportOf(this._view, this._viewSize());
    const { width, height } = this._source.info;
    const x0 = Math.max(0, Math.floor(vp.x));
    const y0 = Math.max(0, Math.floor(vp.y));
    const x1 = Math.min(width, Math.ceil(vp.x + vp.width));
    const y1 = Math.min(height, Math.ceil(vp.y + vp.height));
    return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
  }

  /** Re-render: pick the level, place cached tiles, queue the missing ones. */
  update(): void {
    if (this._disposed || !this._sized) {
      return;
    }
    this._applyTransform();
    const info = this._source.info;
    const size = this._viewSize();
    const viewport = viewportOf(this._view, size);
    const dpr = typeof window !== 'undefined' ? window.devicePixelRatio || 1 : 1;
    const level = chooseLevel(info, this._view.scale * dpr);
    const coarsest = info.levels.length - 1;

    const wanted: TileRef[] = [];
    const coarse = visibleTiles(info, coarsest, viewport);
    let message = '';
    if (coarse.length <= MAX_TILES_PER_VIEW) {
      wanted.push(...coarse);
    }
    if (level !== coarsest) {
      const fine = visibleTiles(info, level, viewport);
      if (fine.length <= MAX_TILES_PER_VIEW) {
        wanted.push(...fine);
      } else {
        message = 'Zoom in to see full resolution';
      }
    } else if (coarse.length > MAX_TILES_PER_VIEW) {
      message = 'This image has no low-resolution level: zoom in to view it';
    }
    this._placeTiles(wanted, coarsest);
    this._drawScaleBar();
    this._drawOverview();
    this._notice.textContent = message;
    this._notice.style.display = message ? '' : 'none';
    this._setStatus({
      level,
      downsample: info.levels[level].downsampleX,
      zoom: zoomLabel(this._view.scale),
      message
    });
    this._tileLayer.batchDraw();
    this._checkSettled();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._queue = [];
    this._abort.abort();
    this._resizeObserver?.disconnect();
    this._stage.destroy();
    this._nodes.clear();
    this._cache.clear();
    for (const key of [...this._evictedOnScreen.keys()]) {
      this._releaseEvicted(key);
    }
    Signal.clearData(this);
  }

  private _viewSize() {
    return { width: this._stage.width(), height: this._stage.height() };
  }

  private _setView(view: ViewState): void {
    this._view = clampView(view, this._source.info, this._viewSize());
    this.update();
  }

  private _applyTransform(): void {
    const { scale, x, y } = this._view;
    for (const layer of [this._tileLayer, ...this._overlays]) {
      layer.scale({ x: scale, y: scale });
      layer.position({ x: -x * scale, y: -y * scale });
      if (layer !== this._tileLayer) {
        layer.batchDraw();
      }
    }
  }

  private _placeTiles(wanted: TileRef[], coarsest: number): void {
    const keys = new Set<string>();
    this._queue = [];
    for (const tile of wanted) {
      const key = tileKey(tile);
      keys.add(key);
      const group = tile.level === coarsest ? this._coarseGroup : this._fineGroup;
      const image = this._cache.get(key);
      if (image) {
        let node = this._nodes.get(key);
        if (!node) {
          node = new Konva.Image({
            image,
            x: tile.x,
            y: tile.y,
            width: tile.width,
            height: tile.height,
            listening: false
          });
          group.add(node);
          this._nodes.set(key, node);
        }
      } else if (!this._inflight.has(key) && !this._failed.has(key)) {
        this._queue.push(tile);
      }
    }
    // Remove tiles that left the view (coarse tiles stay as background).
    for (const [key, node] of this._nodes) {
      if (!keys.has(key)) {
        node.destroy();
        this._nodes.delete(key);
        this._releaseEvicted(key);
      }
    }
    // Centre tiles first, coarse before fine so something shows at once.
    const vp = viewportOf(this._view, this._viewSize());
    const cx = vp.x + vp.width / 2;
    const cy = vp.y + vp.height / 2;
    this._queue.sort((a, b) => {
      if (a.level !== b.level) {
        return b.level - a.level;
      }
      const da = Math.hypot(a.x + a.width / 2 - cx, a.y + a.height / 2 - cy);
      const db = Math.hypot(b.x + b.width / 2 - cx, b.y + b.height / 2 - cy);
      return da - db;
    });
    this._pump();
  }

  private _pump(): void {
    while (this._inflight.size < this._options.maxConcurrentRequests && this._queue.length) {
      const tile = this._queue.shift()!;
      const key = tileKey(tile);
      if (this._inflight.has(key) || this._cache.has(key)) {
        continue;
      }
      this._inflight.add(key);
      void this._loadTile(tile, key);
    }
    this._setStatus({ tilesLoading: this._inflight.size + this._queue.length });
  }

  private async _loadTile(tile: TileRef, key: string): Promise<void> {
    try {
      const pixels = await this._source.readTile(tile.level, tile.col, tile.row, {
        signal: this._abort.signal
      });
      if (this._disposed) {
        return;
      }
      const image = await toImage(pixels);
      this._cache.set(key, image, pixels.width * pixels.height * 4);
      this._loadedCount++;
    } catch (e) {
      if (this._disposed) {
        return;
      }
      const err = toSlideError(e);
      this._failed.add(key);
      this._tileFailed.emit(err);
    } finally {
      this._inflight.delete(key);
    }
    if (!this._disposed) {
      this.update();
    }
  }

  /** Close a bitmap the cache dropped while its node was still on screen. */
  private _releaseEvicted(key: string): void {
    const image = this._evictedOnScreen.get(key);
    if (image) {
      this._evictedOnScreen.delete(key);
      closeImage(image);
    }
  }

  private _checkSettled(): void {
    if (this._inflight.size === 0 && this._queue.length === 0) {
      // batchDraw waits for the next frame: draw now so "settled" means "on screen".
      this._tileLayer.draw();
      this._viewSettled.emit();
    }
  }

  private _setStatus(patch: Partial<ViewerStatus>): void {
    this._status = { ...this._status, ...patch };
    this._statusChanged.emit(this._status);
  }

  private _drawScaleBar(): void {
    const mpp = this._source.info.mppX;
    const bar = mpp ? niceScaleBar(mpp, this._view.scale) : null;
    if (!bar || !this._options.showScaleBar) {
      this._scaleBar.style.display = 'none';
      return;
    }
    this._scaleBar.style.display = '';
    this._scaleBar.style.width = `${Math.round(bar.px)}px`;
    this._scaleBar.textContent = bar.label;
  }

  private _drawOverview(): void {
    if (!this._options.showOverview) {
      this._overview.style.display = 'none';
      return;
    }
    const info = this._source.info;
    const maxSide = 160;
    const k = maxSide / Math.max(info.width, info.height);
    const w = Math.max(1, Math.round(info.width * k));
    const h = Math.max(1, Math.round(info.height * k));
    if (this._overview.width !== w || this._overview.height !== h) {
      this._overview.width = w;
      this._overview.height = h;
    }
    const ctx = this._overview.getContext('2d');
    if (!ctx) {
      return;
    }
    ctx.clearRect(0, 0, w, h);
    // The coarsest level's cached tiles make the thumbnail.
    const coarsest = info.levels.length - 1;
    const all = visibleTiles(info, coarsest, { x: 0, y: 0, width: info.width, height: info.height });
    for (const t of all) {
      const img = this._cache.get(tileKey(t));
      if (img) {
        ctx.drawImage(img, t.x * k, t.y * k, t.width * k, t.height * k);
      }
    }
    const vp = viewportOf(this._view, this._viewSize());
    ctx.strokeStyle = this._overviewStroke;
    ctx.lineWidth = 2;
    ctx.strokeRect(vp.x * k, vp.y * k, vp.width * k, vp.height * k);
  }

  private _bindEvents(): void {
    const el = this._stageHost;
    let drag: { x: number; y: number; id: number } | null = null;
    let toolPointer: number | null = null;
    const info = (ev: PointerEvent): IPointerInfo => {
      const rect = el.getBoundingClientRect();
      const sx = ev.clientX - rect.left;
      const sy = ev.clientY - rect.top;
      const [x, y] = screenToImage(this._view, sx, sy);
      return { x, y, screenX: sx, screenY: sy, event: ev };
    };
    el.addEventListener('pointerdown', ev => {
      // Primary button: the active tool, if any (Space held = pan anyway); middle button: always pan.
      const pan = ev.button === 1 || (ev.button === 0 && (!this._tool || this._spaceHeld));
      if (ev.button === 0 && this._tool && !this._spaceHeld) {
        toolPointer = ev.pointerId;
        el.setPointerCapture(ev.pointerId);
        this._tool.onPointerDown(info(ev));
        ev.preventDefault();
        return;
      }
      if (!pan) {
        return;
      }
      drag = { x: ev.clientX, y: ev.clientY, id: ev.pointerId };
      el.setPointerCapture(ev.pointerId);
      el.classList.add('jp-mod-dragging');
      ev.preventDefault();
    });
    el.addEventListener('pointermove', ev => {
      const p = info(ev);
      this._setStatus({ cursor: [Math.floor(p.x), Math.floor(p.y)] });
      if (toolPointer === ev.pointerId) {
        this._tool?.onPointerMove(p);
      } else if (drag && drag.id === ev.pointerId) {
        this.panBy(ev.clientX - drag.x, ev.clientY - drag.y);
        drag.x = ev.clientX;
        drag.y = ev.clientY;
      }
    });
    const endDrag = (ev: PointerEvent) => {
      if (toolPointer === ev.pointerId) {
        toolPointer = null;
        if (ev.type === 'pointercancel') {
          this._tool?.onDeactivate?.();
        } else {
          this._tool?.onPointerUp(info(ev));
        }
      }
      if (drag && drag.id === ev.pointerId) {
        drag = null;
        el.classList.remove('jp-mod-dragging');
      }
    };
    el.addEventListener('pointerup', endDrag);
    el.addEventListener('pointercancel', endDrag);
    el.addEventListener('pointerleave', () => this._setStatus({ cursor: null }));
    // Space + drag pans while a tool is active (as in image editors).
    const keyState = (ev: KeyboardEvent) => {
      if (ev.key === ' ') {
        this._spaceHeld = ev.type === 'keydown';
        el.classList.toggle('jp-mod-pan-ready', this._spaceHeld && !!this._tool);
      }
    };
    this._host.addEventListener('keydown', keyState);
    this._host.addEventListener('keyup', keyState);
    el.addEventListener(
      'wheel',
      ev => {
        ev.preventDefault();
        const rect = el.getBoundingClientRect();
        // Trackpads send small deltas: zoom proportionally.
        const factor = Math.pow(1.0015, -ev.deltaY * (ev.deltaMode === 1 ? 30 : 1));
        this.zoomBy(factor, ev.clientX - rect.left, ev.clientY - rect.top);
      },
      { passive: false }
    );
    this._overview.addEventListener('pointerdown', ev => {
      const info = this._source.info;
      const k = this._overview.width / info.width;
      const rect = this._overview.getBoundingClientRect();
      this.centerOn((ev.clientX - rect.left) / k, (ev.clientY - rect.top) / k);
      ev.stopPropagation();
    });
    if (typeof ResizeObserver !== 'undefined') {
      this._resizeObserver = new ResizeObserver(() => this.resize());
      this._resizeObserver.observe(this._host);
    }
  }

  get pointerTool(): IPointerTool | null {
    return this._tool;
  }

  /** Route the primary button to `tool` (null = drag pans again); the old tool is told. */
  setPointerTool(tool: IPointerTool | null): void {
    if (tool === this._tool) {
      return;
    }
    this._tool?.onDeactivate?.();
    this._tool = tool;
    this._stageHost.style.cursor = tool?.cursor ?? '';
    this._stageHost.classList.toggle('jp-mod-tool', !!tool);
  }

  private _host: HTMLElement;
  private _stageHost: HTMLDivElement;
  private _source: SlideSource;
  private _options: SlideViewerOptions;
  private _cache: LruCache<TileImage>;
  private _stage: Konva.Stage;
  private _tileLayer: Konva.Layer;
  private _coarseGroup: Konva.Group;
  private _fineGroup: Konva.Group;
  private _overlays: Konva.Layer[] = [];
  private _nodes = new Map<string, Konva.Image>();
  private _evictedOnScreen = new Map<string, TileImage>();
  private _inflight = new Set<string>();
  private _failed = new Set<string>();
  private _queue: TileRef[] = [];
  private _abort = new AbortController();
  private _view: ViewState = { scale: 1, x: 0, y: 0 };
  private _sized = false;
  private _disposed = false;
  private _tool: IPointerTool | null = null;
  private _spaceHeld = false;
  private _loadedCount = 0;
  private _scaleBar: HTMLDivElement;
  private _overview: HTMLCanvasElement;
  private _notice: HTMLDivElement;
  private _overviewStroke = '#1976d2';
  private _resizeObserver: ResizeObserver | null = null;
  private _status: ViewerStatus = {
    level: 0,
    downsample: 1,
    zoom: '',
    cursor: null,
    tilesLoading: 0,
    message: ''
  };
  private _statusChanged = new Signal<this, ViewerStatus>(this);
  private _viewSettled = new Signal<this, void>(this);
  private _tileFailed = new Signal<this, SlideError>(this);
}

function closeImage(image: TileImage): void {
  if (typeof ImageBitmap !== 'undefined' && image instanceof ImageBitmap) {
    image.close();
  }
}

function tileKey(t: { level: number; col: number; row: number }): string {
  return `${t.level}/${t.col}/${t.row}`;
}

/** RGBA pixels to something Konva can draw, decoded off the main thread when possible. */
async function toImage(pixels: RegionPixels): Promise<TileImage> {
  const data = new ImageData(
    new Uint8ClampedArray(pixels.data.buffer as ArrayBuffer, pixels.data.byteOffset, pixels.width * pixels.height * 4),
    pixels.width,
    pixels.height
  );
  if (typeof createImageBitmap === 'function') {
    return createImageBitmap(data);
  }
  const canvas = document.createElement('canvas');
  canvas.width = pixels.width;
  canvas.height = pixels.height;
  canvas.getContext('2d')!.putImageData(data, 0, 0);
  return canvas;
}
