import { IGNORE_LABEL } from '../../tokens';
import { makeCorrection } from './fixtures';
import { BRUSH_SIZES, EditorModel, validateCorrection } from '../model';

function count(data: Uint8Array, v: number): number {
  return data.reduce((n, x) => n + (x === v ? 1 : 0), 0);
}

describe('EditorModel', () => {
  it('a brush stroke paints the label, records one undoable operation, and makes it dirty', () => {
    const c = makeCorrection();
    const m = new EditorModel({ correction: c, brushSize: 4 });
    const rects: unknown[] = [];
    m.maskChanged.connect((_, ch) => rects.push(ch.rect));
    expect(m.isDirty).toBe(false);
    m.pointerDown(10, 10);
    m.pointerMove(20, 10);
    m.pointerMove(30, 12);
    m.pointerUp();
    expect(rects.length).toBe(3); // one dirty rect per move, not the whole mask
    expect(count(m.mask.data, 1)).toBeGreaterThan(70);
    expect(m.history.undoDepth).toBe(1);
    expect(m.isDirty).toBe(true);
    expect(c.mask.every(v => v === 0)).toBe(true); // the Correction handed in is not modified
    m.undo();
    expect(count(m.mask.data, 1)).toBe(0);
    expect(m.isDirty).toBe(false);
    m.redo();
    expect(m.isDirty).toBe(true);
    const out = m.result();
    expect(out.status).toBe('corrected');
    expect(out.mask).not.toBe(m.mask.data);
    expect(out.mask).toEqual(m.mask.data);
    expect(out.id).toBe(c.id);
  });

  it('eraser writes ignore; Alt erases with the brush; the lasso fills and erases; fill floods', () => {
    const m = new EditorModel({ correction: makeCorrection(32, 3, 1), brushSize: 2 });
    m.setTool('eraser');
    m.pointerDown(5.5, 5.5);
    m.pointerUp();
    expect(m.mask.data[5 * 32 + 5]).toBe(IGNORE_LABEL);
    m.setTool('brush');
    m.setLabel(2);
    m.pointerDown(20.5, 20.5, true);
    m.pointerUp();
    expect(m.mask.data[20 * 32 + 20]).toBe(IGNORE_LABEL);
    m.setTool('polygon');
    m.pointerDown(0, 24);
    m.pointerMove(8, 24);
    m.pointerMove(8, 32);
    expect(m.lasso.length).toBe(6);
    m.pointerMove(0, 32);
    m.pointerUp();
    expect(m.mask.data[28 * 32 + 4]).toBe(2);
    expect(m.lasso.length).toBe(0);
    m.setPolygonMode('erase');
    m.pointerDown(0, 24);
    m.pointerMove(4, 24);
    m.pointerMove(4, 28);
    m.pointerMove(0, 28);
    m.pointerUp();
    expect(m.mask.data[26 * 32 + 2]).toBe(IGNORE_LABEL);
    m.setTool('fill');
    m.setLabel(0);
    m.pointerDown(15, 15);
    expect(m.mask.data[15 * 32 + 15]).toBe(0);
    expect(m.mask.data[28 * 32 + 6]).toBe(2); // the lasso's area is another region
    expect(m.history.undoDepth).toBe(5);
    for (let k = 0; k < 5; k++) {
      m.undo();
    }
    expect(m.mask.data.every(v => v === 1)).toBe(true);
    expect(m.isDirty).toBe(false);
  });

  it('erase-to background when asked', () => {
    const m = new EditorModel({ correction: makeCorrection(16, 2, 1), eraseTo: 'background', brushSize: 2 });
    m.setTool('eraser');
    m.pointerDown(8, 8);
    m.pointerUp();
    expect(m.mask.data[8 * 16 + 8]).toBe(0);
  });

  it('a cancelled stroke puts its pixels back and leaves no history', () => {
    const m = new EditorModel({ correction: makeCorrection(32), brushSize: 8 });
    m.pointerDown(10, 10);
    m.pointerMove(20, 20);
    expect(m.isDirty).toBe(true);
    m.pointerCancel();
    expect(m.mask.data.every(v => v === 0)).toBe(true);
    expect(m.isDirty).toBe(false);
    expect(m.history.canUndo).toBe(false);
    // Switching tools mid-stroke cancels too.
    m.pointerDown(10, 10);
    m.setTool('fill');
    expect(m.mask.data.every(v => v === 0)).toBe(true);
  });

  it('brush size steps with [ and ], clamped; labels and tools are checked', () => {
    const m = new EditorModel({ correction: makeCorrection(), brushSize: 16 });
    m.brushLarger();
    expect(m.brushSize).toBe(24);
    m.brushSmaller();
    m.brushSmaller();
    expect(m.brushSize).toBe(12);
    for (let k = 0; k < 30; k++) {
      m.brushSmaller();
    }
    expect(m.brushSize).toBe(BRUSH_SIZES[0]);
    for (let k = 0; k < 30; k++) {
      m.brushLarger();
    }
    expect(m.brushSize).toBe(BRUSH_SIZES[BRUSH_SIZES.length - 1]);
    expect(() => m.setLabel(2)).toThrow(/not one of the 2 classes/);
    m.setLabel(IGNORE_LABEL);
    expect(m.label).toBe(IGNORE_LABEL);
    expect(() => m.setTool('spray' as never)).toThrow(/Unknown editor tool/);
  });

  it('rejects a Correction it cannot edit, with a message for the user', () => {
    const c = makeCorrection(8);
    expect(() => validateCorrection({ ...c, mask: new Uint8Array(10) })).toThrow(/needs 64/);
    expect(() => validateCorrection({ ...c, image: new Uint8ClampedArray(10) })).toThrow(/RGBA patch needs 256/);
    expect(() => validateCorrection({ ...c, classes: [] })).toThrow(/1 to 254 classes/);
    const bad = Uint8Array.from(c.mask);
    bad[3] = 7;
    expect(() => validateCorrection({ ...c, mask: bad })).toThrow(/value 7 at pixel 3/);
    const ignored = Uint8Array.from(c.mask).fill(IGNORE_LABEL);
    expect(() => validateCorrection({ ...c, mask: ignored })).not.toThrow();
    // One class: the default label is 0.
    expect(new EditorModel({ correction: makeCorrection(8, 1) }).label).toBe(0);
  });

  it('history stays bounded over a long session', () => {
    const m = new EditorModel({ correction: makeCorrection(128), brushSize: 8, history: { maxEntries: 20, maxBytes: 64 * 1024 } });
    for (let k = 0; k < 200; k++) {
      m.setLabel(k % 2);
      m.pointerDown((k * 7) % 128, (k * 13) % 128);
      m.pointerMove((k * 11) % 128, (k * 5) % 128);
      m.pointerUp();
    }
    expect(m.history.undoDepth).toBeLessThanOrEqual(20);
    expect(m.history.bytes).toBeLessThanOrEqual(64 * 1024);
    while (m.undo()) {
      // undo all that is kept
    }
    expect(m.isDirty).toBe(true); // older strokes were dropped from the history
  });

  it('replaceMask takes the given classes as one undo step, keeping outside pixels ignore', () => {
    const c = makeCorrection(8, 2, 0);
    // The last row lies outside the slide: ignore from the start.
    c.mask.fill(IGNORE_LABEL, 56);
    const m = new EditorModel({ correction: c });
    const truth = new Uint8Array(64).fill(1);
    truth[0] = IGNORE_LABEL; // no truth there: left as it is
    truth[1] = 7; // not a class: left as it is
    expect(m.replaceMask(truth, 'ground truth')).toBe(true);
    expect(m.mask.data[0]).toBe(0);
    expect(m.mask.data[1]).toBe(0);
    expect(count(m.mask.data, 1)).toBe(54);
    expect(count(m.mask.data, IGNORE_LABEL)).toBe(8);
    expect(m.isDirty).toBe(true);
    expect(m.undo()).toBe(true);
    expect(count(m.mask.data, 0)).toBe(56);
    expect(m.isDirty).toBe(false);
    expect(m.redo()).toBe(true);
    expect(count(m.mask.data, 1)).toBe(54);
    // The same again changes nothing and records nothing.
    expect(m.replaceMask(truth)).toBe(false);
    expect(m.undo()).toBe(true);
    expect(m.undo()).toBe(false);
    expect(() => m.replaceMask(new Uint8Array(3))).toThrow(/3 values/);
  });
});
