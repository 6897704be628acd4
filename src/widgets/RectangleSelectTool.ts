import Konva from 'konva';
import type { IPointerInfo, IPointerTool, ISlideViewer, ViewRect } from '../tokens';

/**
 * A viewer pointer tool: drag a rectangle on the slide (level-0 pixels),
 * then `done(rect)`; Escape or a click without a drag gives `done(null)`.
 */
export class RectangleSelectTool implements IPointerTool {
  constructor(viewer: ISlideViewer, done: (rect: ViewRect | null) => void) {
    this._viewer = viewer;
    this._done = done;
    this._layer = viewer.addOverlayLayer('uga-selection');
    window.addEventListener('keydown', this._onKey, true);
  }

  readonly cursor = 'crosshair';

  onPointerDown(p: IPointerInfo): void {
    this._start = [p.x, p.y];
    this._rect = new Konva.Rect({
      x: p.x,
      y: p.y,
      width: 0,
      height: 0,
      stroke: '#1976d2',
      strokeWidth: 2,
      dash: [6, 4],
      strokeScaleEnabled: false
    });
    this._layer.add(this._rect);
  }

  onPointerMove(p: IPointerInfo): void {
    if (!this._start || !this._rect) {
      return;
    }
    const r = this._box(p);
    this._rect.setAttrs(r);
    this._layer.batchDraw();
  }

  onPointerUp(p: IPointerInfo): void {
    if (!this._start) {
      return;
    }
    const r = this._box(p);
    this._finish(r.width > 2 && r.height > 2 ? r : null);
  }

  onDeactivate(): void {
    this._finish(null);
  }

  private _box(p: IPointerInfo): ViewRect {
    const [x0, y0] = this._start!;
    const info = this._viewer.source.info;
    const x = Math.max(0, Math.min(x0, p.x));
    const y = Math.max(0, Math.min(y0, p.y));
    const x1 = Math.min(info.width, Math.max(x0, p.x));
    const y1 = Math.min(info.height, Math.max(y0, p.y));
    return { x: Math.round(x), y: Math.round(y), width: Math.round(Math.max(0, x1 - x)), height: Math.round(Math.max(0, y1 - y)) };
  }

  private _finish(rect: ViewRect | null): void {
    if (this._finished) {
      return;
    }
    this._finished = true;
    window.removeEventListener('keydown', this._onKey, true);
    this._viewer.removeOverlayLayer(this._layer);
    this._done(rect);
  }

  private _onKey = (ev: KeyboardEvent): void => {
    if (ev.key === 'Escape') {
      ev.stopPropagation();
      this._finish(null);
    }
  };

  private _viewer: ISlideViewer;
  private _done: (rect: ViewRect | null) => void;
  private _layer: Konva.Layer;
  private _start: [number, number] | null = null;
  private _rect: Konva.Rect | null = null;
  private _finished = false;
}
