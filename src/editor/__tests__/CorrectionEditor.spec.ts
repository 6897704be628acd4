/**
 * @jest-environment jsdom
 *
 * The editor widget in jsdom: DOM state, pointer wiring, signals, and that a
 * stroke redraws only its dirty rect. jsdom has no 2-D canvas (the `canvas`
 * package needs a native build), so getContext is replaced by a recording
 * stand-in; Konva is loaded from its UMD build (its ESM entry is not
 * transformed by this jest setup).
 */
import { IGNORE_LABEL } from '../../tokens';
import type { Correction } from '../../tokens';
import type { CorrectionEditor as EditorClass } from '../CorrectionEditor';
import { makeCorrection } from './fixtures';

jest.mock('konva', () => require('../../../node_modules/konva/konva.js'));

// @lumino/dragdrop subclasses DragEvent at load; jsdom has none.
if (typeof (globalThis as { DragEvent?: unknown }).DragEvent === 'undefined') {
  (globalThis as { DragEvent?: unknown }).DragEvent = class extends MouseEvent {};
}
const { Widget } = require('@lumino/widgets') as typeof import('@lumino/widgets');
const { CommandRegistry } = require('@lumino/commands') as typeof import('@lumino/commands');

interface PutCall {
  canvas: HTMLCanvasElement;
  args: number[];
}
const puts: PutCall[] = [];

/** A 2-D context that records putImageData and accepts everything else Konva calls. */
function fakeContext(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const base: Record<string, unknown> = {
    canvas,
    createImageData: (w: number, h: number) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) }),
    getImageData: (_x: number, _y: number, w: number, h: number) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) }),
    putImageData: (_img: unknown, ...args: number[]) => puts.push({ canvas, args }),
    measureText: () => ({ width: 0 }),
    getTransform: () => ({ a: 1, b: 0, c: 0, d: 1, e: 0, f: 0 }),
    isPointInPath: () => false,
    createLinearGradient: () => ({ addColorStop: () => undefined }),
    createRadialGradient: () => ({ addColorStop: () => undefined }),
    createPattern: () => ({})
  };
  return new Proxy(base, {
    get: (t, p: string) => (p in t ? t[p] : () => undefined),
    set: (t, p: string, v) => {
      t[p] = v;
      return true;
    }
  }) as unknown as CanvasRenderingContext2D;
}

beforeAll(() => {
  HTMLCanvasElement.prototype.getContext = function (this: HTMLCanvasElement) {
    const self = this as HTMLCanvasElement & { _fake?: CanvasRenderingContext2D };
    self._fake = self._fake ?? fakeContext(this);
    return self._fake;
  } as typeof HTMLCanvasElement.prototype.getContext;
});

function pointer(target: Element, type: string, x: number, y: number, extra: MouseEventInit = {}): void {
  target.dispatchEvent(new MouseEvent(type, { clientX: x, clientY: y, button: 0, bubbles: true, ...extra }));
}

function open(
  correction: Correction,
  options: Partial<ConstructorParameters<typeof EditorClass>[0]> = {}
): { editor: EditorClass; stage: HTMLElement } {
  const { CorrectionEditor } = require('../CorrectionEditor') as typeof import('../CorrectionEditor');
  const editor = new CorrectionEditor({ correction, brushSize: 4, ...options });
  const stage = editor.node.querySelector('.jp-uga-CorrectionEditor-stage') as HTMLElement;
  // jsdom does no layout: give the stage a 256 x 256 box so the 64-px patch is shown at 4x.
  Object.defineProperty(stage, 'clientWidth', { value: 256 });
  Object.defineProperty(stage, 'clientHeight', { value: 256 });
  Widget.attach(editor, document.body);
  return { editor, stage };
}

afterEach(() => {
  document.body.innerHTML = '';
  puts.length = 0;
});

describe('CorrectionEditor widget', () => {
  it('carries its state on the root node and follows the toolbar', () => {
    const { editor } = open(makeCorrection(64));
    const root = editor.node;
    expect(root.classList.contains('jp-uga-CorrectionEditor')).toBe(true);
    expect(root.dataset.ugaEditor).toBe('slide-1-100-200');
    expect(root.dataset.ugaTool).toBe('brush');
    expect(root.dataset.ugaDirty).toBe('false');
    expect(root.dataset.ugaHistory).toBe('0');
    expect(editor.scale).toBe(4);
    (root.querySelector('[data-uga-tool-button="eraser"]') as HTMLButtonElement).click();
    expect(root.dataset.ugaTool).toBe('eraser');
    editor.setTool('polygon');
    expect(root.dataset.ugaTool).toBe('polygon');
    (root.querySelector(`[data-uga-label="${IGNORE_LABEL}"]`) as HTMLButtonElement).click();
    expect(root.dataset.ugaLabel).toBe('255');
    const slider = root.querySelector('.jp-uga-CorrectionEditor-opacity input') as HTMLInputElement;
    slider.value = '80';
    slider.dispatchEvent(new Event('input'));
    expect(editor.model.opacity).toBeCloseTo(0.8, 6);
    editor.brushLarger();
    expect(root.dataset.ugaBrush).toBe('6');
    expect(root.textContent).toContain('Undo');
    expect(root.querySelectorAll('.jp-uga-CorrectionEditor-legend dt').length).toBeGreaterThanOrEqual(10);
    editor.dispose();
  });

  it('a mouse stroke paints the mask where the pointer went, redrawing only dirty rects', () => {
    const { editor, stage } = open(makeCorrection(64));
    const maskPutsBefore = puts.length;
    // Display (40, 40) -> mask (10, 10) at 4x; a horizontal stroke to mask (30, 10).
    pointer(stage, 'pointerdown', 40, 40);
    for (let x = 44; x <= 120; x += 4) {
      pointer(stage, 'pointermove', x, 40);
      editor.flush(); // one animation frame per move
    }
    pointer(stage, 'pointerup', 120, 40);
    editor.flush();
    const m = editor.model.mask;
    expect(m.data[10 * 64 + 10]).toBe(1);
    expect(m.data[10 * 64 + 29]).toBe(1);
    expect(m.data[30 * 64 + 30]).toBe(0);
    expect(editor.node.dataset.ugaDirty).toBe('true');
    expect(editor.node.dataset.ugaHistory).toBe('1');
    const strokePuts = puts.slice(maskPutsBefore);
    expect(strokePuts.length).toBeGreaterThan(5);
    for (const p of strokePuts) {
      // putImageData(img, 0, 0, dx, dy, dw, dh): a small rect, never the whole 64 x 64 mask.
      expect(p.args.length).toBe(6);
      expect(p.args[4] * p.args[5]).toBeLessThan((64 * 64) / 4);
    }
    // Moves within one frame are uploaded once, as their union.
    const beforeBatch = puts.length;
    pointer(stage, 'pointerdown', 40, 200);
    pointer(stage, 'pointermove', 60, 200);
    pointer(stage, 'pointermove', 80, 200);
    pointer(stage, 'pointerup', 80, 200);
    expect(puts.length).toBe(beforeBatch);
    editor.flush();
    expect(puts.length).toBe(beforeBatch + 1);
    expect(puts[puts.length - 1].args[2]).toBeLessThanOrEqual(9); // x from mask 10 - brush radius
    expect(puts[puts.length - 1].args[2] + puts[puts.length - 1].args[4]).toBeGreaterThanOrEqual(21);
    editor.undo();
    (editor.node.querySelector('.jp-uga-CorrectionEditor-toolbar') as HTMLElement)
      .querySelectorAll('button')
      .forEach(b => b.textContent === 'Undo' && b.click());
    expect(editor.node.dataset.ugaHistory).toBe('0');
    expect(editor.node.dataset.ugaDirty).toBe('false');
    expect(m.data.every(v => v === 0)).toBe(true);
    editor.redo();
    expect(editor.isDirty).toBe(true);
    editor.dispose();
  });

  it('accept hands out the edited mask; cancel asks only with unsaved strokes', async () => {
    const { editor, stage } = open(makeCorrection(64));
    const accepted: Correction[] = [];
    let cancelled = 0;
    editor.accepted.connect((_, c) => accepted.push(c));
    editor.cancelled.connect(() => cancelled++);
    const ask = jest.fn(() => Promise.resolve(false));
    expect(await editor.requestCancel(ask)).toBe(true); // clean: leaves without asking
    expect(ask).not.toHaveBeenCalled();
    pointer(stage, 'pointerdown', 100, 100);
    pointer(stage, 'pointerup', 100, 100);
    expect(await editor.requestCancel(ask)).toBe(false); // dirty, user keeps editing
    expect(ask).toHaveBeenCalledTimes(1);
    expect(cancelled).toBe(1);
    (editor.node.querySelector('[data-uga-action="accept"]') as HTMLButtonElement).click();
    expect(accepted.length).toBe(1);
    expect(accepted[0].status).toBe('corrected');
    expect(accepted[0].mask[25 * 64 + 25]).toBe(1);
    expect(await editor.requestCancel(() => Promise.resolve(true))).toBe(true);
    expect(cancelled).toBe(2);
    editor.dispose();
  });

  it("commands act on the current editor and the legend shows the user's bindings", async () => {
    jest.doMock('@jupyterlab/apputils', () => ({ showDialog: jest.fn(), Dialog: {} }));
    const { addEditorCommands, EditorCommandIDs, editorShortcutEntries } = require('../commands') as typeof import('../commands');
    const commands = new CommandRegistry();
    for (const entry of editorShortcutEntries()) {
      commands.addKeyBinding(entry);
    }
    const { editor, stage } = open(makeCorrection(64), { commands });
    let current: EditorClass | null = null;
    const skipped: unknown[] = [];
    const handle = addEditorCommands(commands, () => current, { skip: args => skipped.push(args), confirm: () => Promise.resolve(true) });
    expect(commands.isEnabled(EditorCommandIDs.brush)).toBe(false);
    await commands.execute(EditorCommandIDs.skip, { rank: 2 });
    expect(skipped).toEqual([{ rank: 2 }]);
    current = editor;
    await commands.execute(EditorCommandIDs.fill);
    expect(editor.node.dataset.ugaTool).toBe('fill');
    expect(commands.isToggled(EditorCommandIDs.fill)).toBe(true);
    await commands.execute(EditorCommandIDs.brushSmaller);
    expect(editor.model.brushSize).toBe(3);
    await commands.execute(EditorCommandIDs.brush);
    pointer(stage, 'pointerdown', 100, 100);
    pointer(stage, 'pointerup', 100, 100);
    expect(commands.isEnabled(EditorCommandIDs.undo)).toBe(true);
    await commands.execute(EditorCommandIDs.undo);
    expect(editor.isDirty).toBe(false);
    await commands.execute(EditorCommandIDs.redo);
    await commands.execute(EditorCommandIDs.label, { label: 0 });
    expect(editor.model.label).toBe(0);
    const results: Correction[] = [];
    editor.accepted.connect((_, c) => results.push(c));
    const out = (await commands.execute(EditorCommandIDs.accept)) as Correction;
    expect(out.status).toBe('corrected');
    expect(results.length).toBe(1);
    let cancelled = false;
    editor.cancelled.connect(() => (cancelled = true));
    await commands.execute(EditorCommandIDs.cancel);
    expect(cancelled).toBe(true);
    const legend = editor.node.querySelector('.jp-uga-CorrectionEditor-legend')!.textContent!;
    expect(legend).toContain('Ctrl+Z');
    expect(legend).toContain('Enter');
    // Rebinding updates the legend.
    commands.addKeyBinding({ command: EditorCommandIDs.fill, keys: ['G'], selector: '.jp-uga-CorrectionEditor' });
    expect(editor.node.querySelector('.jp-uga-CorrectionEditor-legend')!.textContent).toContain('F / G');
    // The default shortcuts reach the commands from a keydown inside the editor.
    const key = (k: string, keyCode: number, init: KeyboardEventInit = {}) => {
      const ev = new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...init });
      Object.defineProperty(ev, 'keyCode', { value: keyCode });
      stage.dispatchEvent(ev);
      commands.processKeydownEvent(ev);
    };
    const before = editor.model.brushSize;
    key('[', 219);
    expect(editor.model.brushSize).toBeLessThan(before);
    key(']', 221);
    expect(editor.model.brushSize).toBe(before);
    key('e', 69);
    expect(editor.node.dataset.ugaTool).toBe('eraser');
    pointer(stage, 'pointerdown', 120, 120);
    pointer(stage, 'pointerup', 120, 120);
    const depth = editor.model.history.undoDepth;
    key('z', 90, { ctrlKey: true });
    expect(editor.model.history.undoDepth).toBe(depth - 1);
    key('y', 89, { ctrlKey: true });
    expect(editor.model.history.undoDepth).toBe(depth);
    key('Enter', 13);
    expect(results.length).toBe(2);
    handle.dispose();
    expect(commands.hasCommand(EditorCommandIDs.brush)).toBe(false);
    editor.dispose();
  });
});
