/**
 * The correction editor: one patch's slide pixels with the label mask over
 * them, painted with a brush, an eraser, a lasso or a flood fill.
 *
 * Drawing cost per pointer move: the mask is changed in place, only the
 * changed rect is recoloured into an ImageData and put into an offscreen
 * canvas (putImageData with a dirty rect) once per animation frame, for
 * the union of that frame's pointer events, and the Konva layer that shows
 * that canvas is redrawn (batchDraw). Nothing is
 * recoloured or re-created per move, so a 512 x 512 mask paints smoothly.
 */
import Konva from 'konva';
import type { CommandRegistry } from '@lumino/commands';
import type { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import { Correction, IGNORE_LABEL } from '../tokens';
import { HistoryOptions } from './history';
import { EraseTo, Palette, Rect, buildPalette, colorize, maskOf, outlinePixels, unionRect } from './mask';
import { EDITOR_TOOLS, EditorModel, EditorStateField, EditorTool } from './model';
import { EDITOR_SHORTCUTS, formatKeys } from './shortcuts';

export interface CorrectionEditorOptions {
  /** The patch to correct; its mask (the model's prediction) is the starting mask. Not modified. */
  correction: Correction;
  /** What the eraser writes; default 'ignore' (255). */
  eraseTo?: EraseTo;
  /** Starting brush diameter in mask pixels; default 16. */
  brushSize?: number;
  /** Starting mask opacity in [0, 1]; default 0.5. */
  opacity?: number;
  /** Show the prediction outline at start; default false. */
  showPrediction?: boolean;
  history?: HistoryOptions;
  /**
   * Asked before leaving with unsaved strokes; resolve true to discard them.
   * `addEditorCommands` users pass `confirmDiscard` from ./commands (a
   * JupyterLab dialog); the default is the browser's confirm().
   */
  confirmDiscard?: () => Promise<boolean>;
  /** When given, the legend shows the user's current key bindings. */
  commands?: CommandRegistry;
}

const TOOL_LABELS: Record<EditorTool, string> = {
  brush: 'Brush',
  eraser: 'Eraser',
  polygon: 'Lasso',
  fill: 'Fill'
};
/** Ignore is drawn hatched in this colour (not a class colour any model is likely to use). */
const IGNORE_RGB: [number, number, number] = [255, 0, 255];
const OUTLINE_RGBA = [255, 230, 0, 255];

export class CorrectionEditor extends Widget {
  constructor(options: CorrectionEditorOptions) {
    super();
    this.model = new EditorModel({
      correction: options.correction,
      eraseTo: options.eraseTo,
      brushSize: options.brushSize,
      history: options.history
    });
    this.model.setOpacity(options.opacity ?? 0.5);
    this.model.setShowPrediction(options.showPrediction ?? false);
    this._confirmDiscard = options.confirmDiscard ?? (() => Promise.resolve(window.confirm('Discard the strokes on this patch?')));
    this._commands = options.commands ?? null;
    this.addClass('jp-uga-CorrectionEditor');
    this.node.dataset.ugaEditor = options.correction.id;
    this.node.tabIndex = 0;
    this.title.label = `Correct #${options.correction.rank}`;
    this.title.closable = true;

    const c = options.correction;
    const size = c.patchSize;
    this._palette = buildPalette(
      c.classes.map(k => k.color),
      255,
      IGNORE_RGB
    );
    this._buildDom();

    // Offscreen canvases at mask resolution; Konva scales them to the view.
    this._imageCanvas = makeCanvas(size);
    this._maskCanvas = makeCanvas(size);
    this._predCanvas = makeCanvas(size);
    this._maskCtx = this._maskCanvas.getContext('2d');
    this._maskData = this._maskCtx ? this._maskCtx.createImageData(size, size) : new ImageDataLike(size);
    putPixels(this._imageCanvas, c.image, size);
    colorize(this.model.mask, this._palette, this._maskData.data);
    this._maskCtx?.putImageData(this._maskData as ImageData, 0, 0);
    const outline = outlinePixels(maskOf(this.model.initial, size, size));
    const pred = new Uint8ClampedArray(size * size * 4);
    for (let i = 0; i < outline.length; i++) {
      if (outline[i]) {
        pred.set(OUTLINE_RGBA, i * 4);
      }
    }
    putPixels(this._predCanvas, pred, size);

    this._stage = new Konva.Stage({ container: this._stageHost, width: 1, height: 1 });
    this._imageLayer = new Konva.Layer({ listening: false, imageSmoothingEnabled: false });
    this._maskLayer = new Konva.Layer({ listening: false, imageSmoothingEnabled: false });
    this._uiLayer = new Konva.Layer({ listening: false, imageSmoothingEnabled: false });
    const at = { x: 0, y: 0, width: size, height: size };
    this._imageGroup = new Konva.Group();
    this._imageGroup.add(new Konva.Image({ image: this._imageCanvas, ...at }));
    this._maskGroup = new Konva.Group();
    this._maskImage = new Konva.Image({ image: this._maskCanvas, ...at });
    this._predImage = new Konva.Image({ image: this._predCanvas, ...at });
    this._maskGroup.add(this._maskImage);
    this._uiGroup = new Konva.Group();
    this._lassoLine = new Konva.Line({
      points: [],
      stroke: '#ffffff',
      strokeWidth: 1,
      dash: [4, 3],
      closed: true,
      fill: 'rgba(255,255,255,0.15)'
    });
    this._cursor = new Konva.Circle({ x: 0, y: 0, radius: 1, stroke: '#ffffff', strokeWidth: 1, visible: false });
    this._cursorShadow = new Konva.Circle({ x: 0, y: 0, radius: 1, stroke: '#000000', strokeWidth: 1, visible: false });
    // The prediction outline sits above the mask layer so that the mask opacity does not fade it.
    this._uiGroup.add(this._predImage, this._lassoLine, this._cursorShadow, this._cursor);
    this._imageLayer.add(this._imageGroup);
    this._maskLayer.add(this._maskGroup);
    this._uiLayer.add(this._uiGroup);
    this._stage.add(this._imageLayer, this._maskLayer, this._uiLayer);

    this.model.maskChanged.connect((_, change) => this._onMaskChanged(change.rect));
    this.model.stateChanged.connect((_, field) => this._onStateChanged(field));
    this._commands?.keyBindingChanged.connect(this._renderLegend, this);
    this._bindPointer();
    this._onStateChanged('tool');
    this._onStateChanged('opacity');
    this._onStateChanged('showPrediction');
    this._onStateChanged('history');
  }

  /** The state and pointer logic (mask, tools, history); drawing follows its signals. */
  readonly model: EditorModel;

  /** The edited patch (status 'corrected'), on accept. */
  get accepted(): ISignal<this, Correction> {
    return this._accepted;
  }
  /** The user left without saving (after confirming when there were strokes). */
  get cancelled(): ISignal<this, void> {
    return this._cancelled;
  }
  /** The user asked to skip this patch (the Skip button); the queue marks it skipped. */
  get skipRequested(): ISignal<this, Correction> {
    return this._skipRequested;
  }

  get correction(): Correction {
    return this.model.correction;
  }
  get isDirty(): boolean {
    return this.model.isDirty;
  }
  get tool(): EditorTool {
    return this.model.tool;
  }
  setTool(tool: EditorTool): void {
    this.model.setTool(tool);
  }
  /** Class index to paint, or IGNORE_LABEL (255). */
  setLabel(label: number): void {
    this.model.setLabel(label);
  }
  undo(): boolean {
    return this.model.undo();
  }
  redo(): boolean {
    return this.model.redo();
  }
  brushLarger(): void {
    this.model.brushLarger();
  }
  brushSmaller(): void {
    this.model.brushSmaller();
  }
  togglePrediction(): void {
    this.model.setShowPrediction(!this.model.showPrediction);
  }
  setOpacity(value: number): void {
    this.model.setOpacity(value);
  }

  /** Replace the mask (one undoable edit); see EditorModel.replaceMask. */
  replaceMask(values: Uint8Array, label?: string): boolean {
    return this.model.replaceMask(values, label);
  }

  /** Emit `accepted` with the edited mask; returns the Correction handed out. */
  accept(): Correction {
    const result = this.model.result();
    this._accepted.emit(result);
    return result;
  }

  /** Emit `skipRequested` (strokes are not kept). */
  skip(): void {
    this.model.pointerCancel();
    this._skipRequested.emit({ ...this.model.correction, status: 'skipped' });
  }

  /**
   * Leave without saving: asks first when there are unsaved strokes.
   * Resolves true when `cancelled` was emitted.
   */
  async requestCancel(confirm: () => Promise<boolean> = this._confirmDiscard): Promise<boolean> {
    this.model.pointerCancel();
    if (this.model.isDirty && !(await confirm())) {
      return false;
    }
    this._cancelled.emit();
    return true;
  }

  /** Mask pixel (float) under a client point. */
  clientToMask(clientX: number, clientY: number): [number, number] {
    const r = this._stageHost.getBoundingClientRect();
    return [(clientX - r.left - this._offset.x) / this._scale, (clientY - r.top - this._offset.y) / this._scale];
  }

  /** Display pixels per mask pixel (after fitting the patch into the view). */
  get scale(): number {
    return this._scale;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._resizeObserver?.disconnect();
    if (this._frame !== null) {
      cancelAnimationFrame(this._frame);
      this._frame = null;
    }
    this._commands?.keyBindingChanged.disconnect(this._renderLegend, this);
    this._stage.destroy();
    Signal.clearData(this);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (typeof ResizeObserver !== 'undefined') {
      this._resizeObserver = new ResizeObserver(() => this._fit());
      this._resizeObserver.observe(this._stageHost);
    }
    this._fit();
    this.node.focus();
  }

  protected onBeforeDetach(msg: Message): void {
    this._resizeObserver?.disconnect();
    this._resizeObserver = null;
    super.onBeforeDetach(msg);
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._fit();
  }

  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    this.node.focus();
  }

  // -------------------------------------------------------------------------

  private _buildDom(): void {
    const c = this.model.correction;
    const bar = el('div', 'jp-uga-CorrectionEditor-toolbar');
    const tools = el('div', 'jp-uga-CorrectionEditor-group');
    for (const t of EDITOR_TOOLS) {
      const b = button(TOOL_LABELS[t], () => this.setTool(t));
      b.dataset.ugaToolButton = t;
      this._toolButtons.set(t, b);
      tools.append(b);
    }
    this._lassoMode = document.createElement('select');
    this._lassoMode.className = 'jp-uga-CorrectionEditor-lassoMode';
    this._lassoMode.title = 'What the lasso does on release';
    this._lassoMode.append(new Option('lasso fills', 'fill'), new Option('lasso erases', 'erase'));
    this._lassoMode.onchange = () => this.model.setPolygonMode(this._lassoMode.value === 'erase' ? 'erase' : 'fill');
    tools.append(this._lassoMode);

    const labels = el('div', 'jp-uga-CorrectionEditor-group jp-uga-CorrectionEditor-classes');
    const entries: [number, string, string][] = c.classes.map((k, i) => [i, k.name, `rgb(${k.color.join(',')})`]);
    entries.push([IGNORE_LABEL, 'ignore', '']);
    for (const [value, name, color] of entries) {
      const b = button('', () => this.setLabel(value));
      b.dataset.ugaLabel = String(value);
      b.title = value === IGNORE_LABEL ? 'Ignore: not labelled, never trained on (mask value 255)' : `Paint class ${value}: ${name}`;
      const swatch = el('span', 'jp-uga-CorrectionEditor-swatch' + (value === IGNORE_LABEL ? ' jp-mod-ignore' : ''));
      if (color) {
        swatch.style.background = color;
      }
      b.append(swatch, document.createTextNode(name));
      this._labelButtons.set(value, b);
      labels.append(b);
    }

    const size = el('div', 'jp-uga-CorrectionEditor-group');
    size.append(
      button('−', () => this.brushSmaller(), 'Smaller brush'),
      (this._sizeText = el('span', 'jp-uga-CorrectionEditor-size')),
      button('+', () => this.brushLarger(), 'Larger brush')
    );

    const view = el('div', 'jp-uga-CorrectionEditor-group');
    const opacityLabel = el('label', 'jp-uga-CorrectionEditor-opacity');
    this._opacityInput = document.createElement('input');
    this._opacityInput.type = 'range';
    this._opacityInput.min = '0';
    this._opacityInput.max = '100';
    this._opacityInput.oninput = () => this.setOpacity(Number(this._opacityInput.value) / 100);
    opacityLabel.append(document.createTextNode('Mask'), this._opacityInput);
    const predLabel = el('label', 'jp-uga-CorrectionEditor-prediction');
    this._predInput = document.createElement('input');
    this._predInput.type = 'checkbox';
    this._predInput.onchange = () => this.model.setShowPrediction(this._predInput.checked);
    predLabel.append(this._predInput, document.createTextNode('Prediction'));
    predLabel.title = "Outline of the model's prediction as opened";
    view.append(opacityLabel, predLabel);

    const hist = el('div', 'jp-uga-CorrectionEditor-group');
    this._undoButton = button('Undo', () => this.undo(), 'Undo');
    this._redoButton = button('Redo', () => this.redo(), 'Redo');
    hist.append(this._undoButton, this._redoButton);
    bar.append(tools, labels, size, view, hist);

    const body = el('div', 'jp-uga-CorrectionEditor-body');
    this._stageHost = el('div', 'jp-uga-CorrectionEditor-stage');
    const side = el('div', 'jp-uga-CorrectionEditor-side');
    this._legend = el('dl', 'jp-uga-CorrectionEditor-legend');
    this._renderLegend();
    side.append(this._legend);
    body.append(this._stageHost, side);

    const footer = el('div', 'jp-uga-CorrectionEditor-footer');
    this._status = el('span', 'jp-uga-CorrectionEditor-status');
    const accept = button('Accept', () => this.accept(), 'Accept the correction (Enter)');
    accept.classList.add('jp-mod-accept');
    accept.dataset.ugaAction = 'accept';
    const skip = button('Skip', () => this.skip(), 'Skip this patch');
    skip.dataset.ugaAction = 'skip';
    const cancel = button('Cancel', () => void this.requestCancel(), 'Leave without saving (Esc)');
    cancel.dataset.ugaAction = 'cancel';
    footer.append(this._status, el('span', 'jp-uga-CorrectionEditor-spacer'), cancel, skip, accept);
    this.node.append(bar, body, footer);
  }

  private _renderLegend(): void {
    this._legend.replaceChildren();
    for (const s of EDITOR_SHORTCUTS) {
      const bound = this._commands?.keyBindings.filter(b => b.command === s.command).map(b => [...b.keys]);
      const keys = this._commands ? (bound ?? []) : s.keys;
      const dt = el('dt', '');
      dt.textContent = keys.length ? keys.map(k => formatKeys(k)).join(' / ') : '—';
      const dd = el('dd', '');
      dd.textContent = s.label;
      this._legend.append(dt, dd);
    }
  }

  private _bindPointer(): void {
    const host = this._stageHost;
    host.addEventListener('pointerdown', e => {
      if (e.button !== 0) {
        return;
      }
      e.preventDefault();
      this.node.focus();
      host.setPointerCapture?.(e.pointerId);
      const [x, y] = this.clientToMask(e.clientX, e.clientY);
      this.model.pointerDown(x, y, e.altKey);
      this._moveCursor(x, y);
    });
    host.addEventListener('pointermove', e => {
      const [x, y] = this.clientToMask(e.clientX, e.clientY);
      // Coalesced events keep a fast stroke's shape; each one is a short segment.
      const events = this.model.active && typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
      if (events.length > 1) {
        for (const ev of events) {
          const [cx, cy] = this.clientToMask(ev.clientX, ev.clientY);
          this.model.pointerMove(cx, cy);
        }
      } else {
        this.model.pointerMove(x, y);
      }
      this._moveCursor(x, y);
    });
    const end = (e: PointerEvent) => {
      host.releasePointerCapture?.(e.pointerId);
      this.model.pointerUp();
    };
    host.addEventListener('pointerup', end);
    host.addEventListener('pointercancel', () => this.model.pointerCancel());
    host.addEventListener('pointerleave', () => {
      this._cursor.visible(false);
      this._cursorShadow.visible(false);
      this._uiLayer.batchDraw();
    });
  }

  private _moveCursor(x: number, y: number): void {
    const brush = this.model.tool === 'brush' || this.model.tool === 'eraser';
    const r = this.model.brushSize / 2;
    for (const c of [this._cursor, this._cursorShadow]) {
      c.visible(brush);
      c.position({ x, y });
      c.radius(c === this._cursor ? r : r + 1 / this._scale);
    }
    this._uiLayer.batchDraw();
  }

  private _onMaskChanged(rect: Rect | null): void {
    if (!rect) {
      return;
    }
    // Several pointer events can arrive per frame: recolour and upload their union once per frame.
    this._pending = unionRect(this._pending, rect);
    if (this._frame === null) {
      this._frame = requestAnimationFrame(() => this.flush());
    }
  }

  /**
   * Recolour the mask pixels changed since the last frame into the
   * offscreen canvas (dirty rect only) and redraw its layer. Runs once per
   * animation frame on its own; call it to draw now.
   */
  flush(): void {
    if (this._frame !== null) {
      cancelAnimationFrame(this._frame);
      this._frame = null;
    }
    const rect = this._pending;
    this._pending = null;
    if (!rect || this.isDisposed) {
      return;
    }
    colorize(this.model.mask, this._palette, this._maskData.data, rect);
    this._maskCtx?.putImageData(this._maskData as ImageData, 0, 0, rect.x, rect.y, rect.width, rect.height);
    this._maskLayer.batchDraw();
  }

  private _onStateChanged(field: EditorStateField): void {
    const m = this.model;
    const ds = this.node.dataset;
    switch (field) {
      case 'tool':
        ds.ugaTool = m.tool;
        this._stageHost.dataset.ugaCursor = m.tool;
        for (const [t, b] of this._toolButtons) {
          b.classList.toggle('jp-mod-active', t === m.tool);
          b.setAttribute('aria-pressed', String(t === m.tool));
        }
        this._lassoMode.style.display = m.tool === 'polygon' ? '' : 'none';
        if (m.tool !== 'brush' && m.tool !== 'eraser') {
          this._cursor.visible(false);
          this._cursorShadow.visible(false);
          this._uiLayer.batchDraw();
        }
        break;
      case 'label':
        break;
      case 'polygonMode':
        this._lassoMode.value = m.polygonMode;
        break;
      case 'opacity':
        this._maskLayer.opacity(m.opacity);
        this._opacityInput.value = String(Math.round(m.opacity * 100));
        this._maskLayer.batchDraw();
        break;
      case 'showPrediction':
        this._predImage.visible(m.showPrediction);
        this._predInput.checked = m.showPrediction;
        ds.ugaPrediction = String(m.showPrediction);
        this._uiLayer.batchDraw();
        break;
      case 'history':
        ds.ugaHistory = String(m.history.undoDepth);
        ds.ugaRedo = String(m.history.redoDepth);
        ds.ugaDirty = String(m.isDirty);
        this._undoButton.disabled = !m.history.canUndo;
        this._redoButton.disabled = !m.history.canRedo;
        break;
      case 'lasso':
        this._lassoLine.points([...m.lasso]);
        this._uiLayer.batchDraw();
        return;
    }
    for (const [v, b] of this._labelButtons) {
      b.classList.toggle('jp-mod-active', v === m.label);
      b.setAttribute('aria-pressed', String(v === m.label));
    }
    ds.ugaLabel = String(m.label);
    ds.ugaBrush = String(m.brushSize);
    this._sizeText.textContent = `${m.brushSize} px`;
    const name = m.label === IGNORE_LABEL ? 'ignore' : m.correction.classes[m.label].name;
    this._status.textContent = `${TOOL_LABELS[m.tool]} · ${name} · ${m.history.undoDepth} edit${m.history.undoDepth === 1 ? '' : 's'}${m.isDirty ? ' · unsaved' : ''}`;
  }

  /** Fit the patch into the stage host, centred, whole display pixels per mask pixel when it is enlarged. */
  private _fit(): void {
    const w = Math.max(1, this._stageHost.clientWidth);
    const h = Math.max(1, this._stageHost.clientHeight);
    const size = this.model.size;
    let scale = Math.min(w, h) / size;
    if (scale >= 1) {
      scale = Math.floor(scale); // crisp pixels
    }
    this._scale = scale > 0 ? scale : 1;
    this._offset = { x: Math.round((w - size * this._scale) / 2), y: Math.round((h - size * this._scale) / 2) };
    this._stage.size({ width: w, height: h });
    for (const g of [this._imageGroup, this._maskGroup, this._uiGroup]) {
      g.position(this._offset);
      g.scale({ x: this._scale, y: this._scale });
    }
    this._lassoLine.strokeWidth(1 / this._scale);
    this._cursor.strokeWidth(1 / this._scale);
    this._cursorShadow.strokeWidth(1 / this._scale);
    this._stage.batchDraw();
  }

  private _palette: Palette;
  private _confirmDiscard: () => Promise<boolean>;
  private _commands: CommandRegistry | null;
  private _stage: Konva.Stage;
  private _imageLayer: Konva.Layer;
  private _maskLayer: Konva.Layer;
  private _uiLayer: Konva.Layer;
  private _imageGroup: Konva.Group;
  private _maskGroup: Konva.Group;
  private _uiGroup: Konva.Group;
  private _maskImage: Konva.Image;
  private _predImage: Konva.Image;
  private _lassoLine: Konva.Line;
  private _cursor: Konva.Circle;
  private _cursorShadow: Konva.Circle;
  private _imageCanvas: HTMLCanvasElement;
  private _maskCanvas: HTMLCanvasElement;
  private _predCanvas: HTMLCanvasElement;
  private _maskCtx: CanvasRenderingContext2D | null;
  private _maskData: { data: Uint8ClampedArray };
  private _pending: Rect | null = null;
  private _frame: number | null = null;
  private _scale = 1;
  private _offset = { x: 0, y: 0 };
  private _resizeObserver: ResizeObserver | null = null;
  private _stageHost!: HTMLDivElement;
  private _legend!: HTMLElement;
  private _status!: HTMLElement;
  private _sizeText!: HTMLElement;
  private _opacityInput!: HTMLInputElement;
  private _predInput!: HTMLInputElement;
  private _lassoMode!: HTMLSelectElement;
  private _undoButton!: HTMLButtonElement;
  private _redoButton!: HTMLButtonElement;
  private _toolButtons = new Map<EditorTool, HTMLButtonElement>();
  private _labelButtons = new Map<number, HTMLButtonElement>();
  private _accepted = new Signal<this, Correction>(this);
  private _cancelled = new Signal<this, void>(this);
  private _skipRequested = new Signal<this, Correction>(this);
}

/** Stand-in pixel buffer where a canvas has no 2-D context (never in a browser). */
class ImageDataLike {
  constructor(size: number) {
    this.data = new Uint8ClampedArray(size * size * 4);
  }
  data: Uint8ClampedArray;
}

function makeCanvas(size: number): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = size;
  c.height = size;
  return c;
}

function putPixels(canvas: HTMLCanvasElement, rgba: Uint8ClampedArray, size: number): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) {
    return;
  }
  const img = ctx.createImageData(size, size);
  img.data.set(rgba);
  ctx.putImageData(img, 0, 0);
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) {
    e.className = className;
  }
  return e;
}

function button(text: string, onClick: () => void, title = ''): HTMLButtonElement {
  const b = el('button', 'jp-uga-CorrectionEditor-button');
  b.type = 'button';
  b.textContent = text;
  if (title) {
    b.title = title;
  }
  // Keep keyboard focus on the editor root so its shortcuts keep working after a click.
  b.addEventListener('mousedown', e => e.preventDefault());
  b.addEventListener('click', onClick);
  return b;
}
