/**
 * Command ids of the correction editor and their default keys. The keys
 * live in schema/plugin.json ("jupyter.lab.shortcuts") so that users can
 * rebind them; this table is what the editor's legend shows and what the
 * schema entries are generated from (`editorShortcutEntries`).
 */
export namespace EditorCommandIDs {
  export const brush = 'uga:editor-brush';
  export const eraser = 'uga:editor-eraser';
  export const polygon = 'uga:editor-polygon';
  export const fill = 'uga:editor-fill';
  export const undo = 'uga:editor-undo';
  export const redo = 'uga:editor-redo';
  export const brushLarger = 'uga:editor-brush-larger';
  export const brushSmaller = 'uga:editor-brush-smaller';
  export const togglePrediction = 'uga:editor-toggle-prediction';
  /** args { label: number }: class index or 255 (ignore); unbound by default. */
  export const label = 'uga:editor-label';
  export const accept = 'uga:accept-correction';
  export const skip = 'uga:skip-suggestion';
  export const cancel = 'uga:cancel-correction';
}

/** CSS selector of the editor root: shortcuts fire only while focus is inside it. */
export const EDITOR_SELECTOR = '.jp-uga-CorrectionEditor';

export interface EditorShortcut {
  command: string;
  /** Lumino key sequences, e.g. 'Accel Z'; one array per alternative binding. */
  keys: string[][];
  /** What the legend says. */
  label: string;
}

export const EDITOR_SHORTCUTS: readonly EditorShortcut[] = [
  { command: EditorCommandIDs.brush, keys: [['B']], label: 'Brush' },
  { command: EditorCommandIDs.eraser, keys: [['E']], label: 'Eraser (or hold Alt with any tool)' },
  { command: EditorCommandIDs.polygon, keys: [['P']], label: 'Lasso: drag around an area' },
  { command: EditorCommandIDs.fill, keys: [['F']], label: 'Flood fill' },
  { command: EditorCommandIDs.brushSmaller, keys: [['[']], label: 'Smaller brush' },
  { command: EditorCommandIDs.brushLarger, keys: [[']']], label: 'Larger brush' },
  { command: EditorCommandIDs.undo, keys: [['Accel Z']], label: 'Undo' },
  { command: EditorCommandIDs.redo, keys: [['Accel Shift Z'], ['Accel Y']], label: 'Redo' },
  { command: EditorCommandIDs.togglePrediction, keys: [['H']], label: 'Show/hide the prediction outline' },
  { command: EditorCommandIDs.accept, keys: [['Enter']], label: 'Accept the correction' },
  { command: EditorCommandIDs.cancel, keys: [['Escape']], label: 'Leave without saving' }
];

/** The `"jupyter.lab.shortcuts"` entries of schema/plugin.json for the editor. */
export function editorShortcutEntries(selector = EDITOR_SELECTOR): { command: string; keys: string[]; selector: string }[] {
  return EDITOR_SHORTCUTS.flatMap(s => s.keys.map(keys => ({ command: s.command, keys, selector })));
}

/** 'Accel Shift Z' -> 'Ctrl+Shift+Z' (or ⌘ on a Mac) for the legend. */
export function formatKeys(keys: string[], mac = typeof navigator !== 'undefined' && /Mac/.test(navigator.platform)): string {
  return keys
    .map(k =>
      k
        .split(' ')
        .map(part => (part === 'Accel' ? (mac ? '⌘' : 'Ctrl') : part === 'Escape' ? 'Esc' : part))
        .join(mac ? '' : '+')
    )
    .join(', ');
}
