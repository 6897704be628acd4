/**
 * State and pointer logic of the correction editor, without any drawing:
 * the widget forwards pointer positions in mask pixels and redraws the
 * rect each change reports. Kept apart from Konva so that it is tested in
 * Node.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { Correction, IGNORE_LABEL } from '../tokens';
import { HistoryOptions, MaskHistory } from './history';
import { EraseTo, Mask, Rect, eraseValue, fillPolygon, floodFill, maskOf, stampSegment, unionRect } from './mask';

export type EditorTool = 'brush' | 'eraser' | 'polygon' | 'fill';
export const EDITOR_TOOLS: readonly EditorTool[] = ['brush', 'eraser', 'polygon', 'fill'];

/** What the polygon lasso does on release. */
export type PolygonMode = 'fill' | 'erase';

/** Brush diameters that `[` and `]` step through (mask pixels). */
export const BRUSH_SIZES: readonly number[] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128];

export interface EditorModelOptions {
  correction: Correction;
  /** What the eraser and the erasing lasso write; default 'ignore' (255): "not labelled, never trained on". */
  eraseTo?: EraseTo;
  /** Starting brush diameter in mask pixels; default 16. */
  brushSize?: number;
  /** Starting label; default the first non-background class (1), or 0 with one class. */
  label?: number;
  history?: HistoryOptions;
}

export interface MaskChange {
  /** Mask pixels that changed (null: none). */
  rect: Rect | null;
}

/** Anything besides the pixels: tool, label, size, history depth, dirty, view toggles. */
export type EditorStateField = 'tool' | 'label' | 'brushSize' | 'polygonMode' | 'history' | 'opacity' | 'showPrediction' | 'lasso';

/** A user-facing error for a Correction the editor cannot open. */
export function validateCorrection(c: Correction): void {
  const n = c.patchSize * c.patchSize;
  if (!(Number.isInteger(c.patchSize) && c.patchSize > 0)) {
    throw new Error(`The patch size must be a positive whole number of pixels, got ${c.patchSize}.`);
  }
  if (c.mask.length !== n) {
    throw new Error(`The patch mask has ${c.mask.length} values; a ${c.patchSize} x ${c.patchSize} patch needs ${n}.`);
  }
  if (c.image.length !== n * 4) {
    throw new Error(`The patch image has ${c.image.length} values; a ${c.patchSize} x ${c.patchSize} RGBA patch needs ${n * 4}.`);
  }
  if (c.classes.length < 1 || c.classes.length > 254) {
    throw new Error(`The editor needs 1 to 254 classes (255 is "ignore"); the model has ${c.classes.length}.`);
  }
  for (let i = 0; i < n; i++) {
    const v = c.mask[i];
    if (v >= c.classes.length && v !== IGNORE_LABEL) {
      throw new Error(
        `The patch mask holds value ${v} at pixel ${i}, but the model has only ${c.classes.length} classes (and 255 = ignore).`
      );
    }
  }
}

export class EditorModel {
  constructor(options: EditorModelOptions) {
    const c = options.correction;
    validateCorrection(c);
    this.correction = c;
    this.size = c.patchSize;
    this.classes = c.classes.length;
    this.initial = Uint8Array.from(c.mask);
    this.mask = maskOf(Uint8Array.from(c.mask), this.size, this.size);
    this.history = new MaskHistory(this.mask, options.history);
    this.eraseTo = options.eraseTo ?? 'ignore';
    this._brushSize = clampSize(options.brushSize ?? 16);
    this._label = options.label ?? (this.classes > 1 ? 1 : 0);
    this.setLabel(this._label);
  }

  readonly correction: Correction;
  /** Edge of the square mask in pixels. */
  readonly size: number;
  readonly classes: number;
  /** The model's prediction as opened (for "show prediction" and dirty checks). */
  readonly initial: Uint8Array;
  /** The mask being edited, in place. */
  readonly mask: Mask;
  readonly history: MaskHistory;
  readonly eraseTo: EraseTo;

  get maskChanged(): ISignal<this, MaskChange> {
    return this._maskChanged;
  }
  get stateChanged(): ISignal<this, EditorStateField> {
    return this._stateChanged;
  }

  get tool(): EditorTool {
    return this._tool;
  }
  setTool(tool: EditorTool): void {
    if (!EDITOR_TOOLS.includes(tool)) {
      throw new Error(`Unknown editor tool "${String(tool)}"; use one of ${EDITOR_TOOLS.join(', ')}.`);
    }
    if (tool !== this._tool) {
      this.pointerCancel();
      this._tool = tool;
      this._stateChanged.emit('tool');
    }
  }

  /** Class index painted by the brush, the lasso and the fill; IGNORE_LABEL paints ignore. */
  get label(): number {
    return this._label;
  }
  setLabel(label: number): void {
    if (!(Number.isInteger(label) && ((label >= 0 && label < this.classes) || label === IGNORE_LABEL))) {
      throw new Error(`Label ${label} is not one of the ${this.classes} classes or ignore (${IGNORE_LABEL}).`);
    }
    if (label !== this._label) {
      this._label = label;
      this._stateChanged.emit('label');
    }
  }

  get brushSize(): number {
    return this._brushSize;
  }
  setBrushSize(size: number): void {
    const s = clampSize(size);
    if (s !== this._brushSize) {
      this._brushSize = s;
      this._stateChanged.emit('brushSize');
    }
  }
  /** Next size up in `BRUSH_SIZES` (`]`). */
  brushLarger(): void {
    this.setBrushSize(BRUSH_SIZES.find(s => s > this._brushSize) ?? BRUSH_SIZES[BRUSH_SIZES.length - 1]);
  }
  /** Next size down (`[`). */
  brushSmaller(): void {
    this.setBrushSize([...BRUSH_SIZES].reverse().find(s => s < this._brushSize) ?? BRUSH_SIZES[0]);
  }

  get polygonMode(): PolygonMode {
    return this._polygonMode;
  }
  setPolygonMode(mode: PolygonMode): void {
    if (mode !== this._polygonMode) {
      this._polygonMode = mode;
      this._stateChanged.emit('polygonMode');
    }
  }

  /** Mask layer opacity in [0, 1] (view state, kept here so that tests can read it). */
  get opacity(): number {
    return this._opacity;
  }
  setOpacity(value: number): void {
    const v = Math.min(1, Math.max(0, Number.isFinite(value) ? value : this._opacity));
    if (v !== this._opacity) {
      this._opacity = v;
      this._stateChanged.emit('opacity');
    }
  }
  get showPrediction(): boolean {
    return this._showPrediction;
  }
  setShowPrediction(on: boolean): void {
    if (on !== this._showPrediction) {
      this._showPrediction = on;
      this._stateChanged.emit('showPrediction');
    }
  }

  /** Points of the lasso being drawn (flat x, y in mask pixels). */
  get lasso(): readonly number[] {
    return this._lasso;
  }
  /** True while a stroke or lasso is under way. */
  get active(): boolean {
    return this._active;
  }

  /** Unsaved changes: the mask differs from the prediction it opened with. */
  get isDirty(): boolean {
    if (this._version === 0 && !this._active) {
      return false;
    }
    const d = this.mask.data;
    for (let i = 0; i < d.length; i++) {
      if (d[i] !== this.initial[i]) {
        return true;
      }
    }
    return false;
  }

  /**
   * Start a stroke at (x, y) in mask pixels. `erase` (e.g. Alt held) makes
   * the brush erase and the lasso erase for this stroke.
   */
  pointerDown(x: number, y: number, erase = false): void {
    this.pointerCancel();
    this._eraseStroke = erase;
    switch (this._tool) {
      case 'fill': {
        this.history.begin();
        const r = floodFill(this.mask, x, y, erase ? eraseValue(this.eraseTo) : this._label);
        this._record(r, 'fill');
        return;
      }
      case 'polygon':
        this._active = true;
        this._lasso = [x, y];
        this._stateChanged.emit('lasso');
        return;
      default:
        this._active = true;
        this.history.begin();
        this._strokeRect = null;
        this._last = [x, y];
        this._stamp(x, y, x, y);
    }
  }

  pointerMove(x: number, y: number): void {
    if (!this._active) {
      return;
    }
    if (this._tool === 'polygon') {
      const n = this._lasso.length;
      // Skip points closer than half a pixel: a lasso of thousands of points slows the fill for nothing.
      if (n >= 2 && Math.hypot(x - this._lasso[n - 2], y - this._lasso[n - 1]) < 0.5) {
        return;
      }
      this._lasso.push(x, y);
      this._stateChanged.emit('lasso');
      return;
    }
    const [lx, ly] = this._last!;
    this._last = [x, y];
    this._stamp(lx, ly, x, y);
  }

  pointerUp(): void {
    if (!this._active) {
      return;
    }
    this._active = false;
    if (this._tool === 'polygon') {
      const points = this._lasso;
      this._lasso = [];
      this._stateChanged.emit('lasso');
      const erase = this._eraseStroke || this._polygonMode === 'erase';
      this.history.begin();
      const r = fillPolygon(this.mask, points, erase ? eraseValue(this.eraseTo) : this._label);
      this._record(r, erase ? 'lasso erase' : 'lasso fill');
      return;
    }
    this._last = null;
    const r = this._strokeRect;
    this._strokeRect = null;
    if (this.history.commit(r, this._tool)) {
      this._version++;
      this._stateChanged.emit('history');
    }
  }

  /** Abandon a stroke or lasso under way; a stroke's pixels are put back. */
  pointerCancel(): void {
    if (!this._active) {
      return;
    }
    this._active = false;
    if (this._tool === 'polygon') {
      this._lasso = [];
      this._stateChanged.emit('lasso');
      return;
    }
    const r = this._strokeRect;
    this._strokeRect = null;
    this._last = null;
    if (this.history.commit(r, this._tool)) {
      // Recorded, then undone at once: the redo entry is dropped by the next edit.
      this.history.undo();
      this._maskChanged.emit({ rect: r });
    }
  }

  undo(): boolean {
    this.pointerCancel();
    const r = this.history.undo();
    if (r) {
      this._version--;
      this._maskChanged.emit({ rect: r });
      this._stateChanged.emit('history');
    }
    return r !== null;
  }

  redo(): boolean {
    this.pointerCancel();
    const r = this.history.redo();
    if (r) {
      this._version++;
      this._maskChanged.emit({ rect: r });
      this._stateChanged.emit('history');
    }
    return r !== null;
  }

  /**
   * Replace the whole mask with `values` (e.g. the slide's ground truth), as
   * one undoable edit. Pixels outside the slide (ignore from the start) stay
   * ignore; `values` of IGNORE_LABEL leave a pixel as it is.
   */
  replaceMask(values: Uint8Array, label = 'replace'): boolean {
    const d = this.mask.data;
    if (values.length !== d.length) {
      throw new Error(`replaceMask: ${values.length} values for a ${this.size} x ${this.size} mask`);
    }
    this.pointerCancel();
    this.history.begin();
    let changed = false;
    for (let i = 0; i < d.length; i++) {
      const v = values[i];
      if (v !== IGNORE_LABEL && this.initial[i] !== IGNORE_LABEL && v < this.classes && d[i] !== v) {
        d[i] = v;
        changed = true;
      }
    }
    this._record(changed ? { x: 0, y: 0, width: this.size, height: this.size } : null, label);
    return changed;
  }

  /** The edited patch as a Correction with status 'corrected' (a copy: later edits do not change it). */
  result(): Correction {
    this.pointerCancel();
    return { ...this.correction, mask: Uint8Array.from(this.mask.data), status: 'corrected' };
  }

  private _stamp(x0: number, y0: number, x1: number, y1: number): void {
    const value = this._tool === 'eraser' || this._eraseStroke ? eraseValue(this.eraseTo) : this._label;
    const r = stampSegment(this.mask, x0, y0, x1, y1, this._brushSize, value);
    if (r) {
      this._strokeRect = unionRect(this._strokeRect, r);
      this._maskChanged.emit({ rect: r });
    }
  }

  private _record(r: Rect | null, label: string): void {
    if (this.history.commit(r, label)) {
      this._version++;
      this._maskChanged.emit({ rect: r });
      this._stateChanged.emit('history');
    }
  }

  private _tool: EditorTool = 'brush';
  private _label: number;
  private _brushSize: number;
  private _polygonMode: PolygonMode = 'fill';
  private _opacity = 0.5;
  private _showPrediction = false;
  private _active = false;
  private _eraseStroke = false;
  private _last: [number, number] | null = null;
  private _strokeRect: Rect | null = null;
  private _lasso: number[] = [];
  /** Applied operations minus undone ones since opening (0 = nothing to save, unless trimmed). */
  private _version = 0;
  private _maskChanged = new Signal<this, MaskChange>(this);
  private _stateChanged = new Signal<this, EditorStateField>(this);
}

function clampSize(size: number): number {
  if (!Number.isFinite(size)) {
    throw new Error(`Brush size must be a number, got ${size}.`);
  }
  return Math.min(BRUSH_SIZES[BRUSH_SIZES.length - 1], Math.max(BRUSH_SIZES[0], Math.round(size)));
}
