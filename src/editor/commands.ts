/**
 * JupyterLab commands of the correction editor. Their keys are JupyterLab
 * shortcuts in schema/plugin.json (see `editorShortcutEntries` in
 * ./shortcuts), so users can rebind them in the Settings Editor.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { IGNORE_LABEL } from '../tokens';
import type { CorrectionEditor } from './CorrectionEditor';
import { EditorTool } from './model';
import { EditorCommandIDs } from './shortcuts';

export { EditorCommandIDs, EDITOR_SELECTOR, EDITOR_SHORTCUTS, editorShortcutEntries } from './shortcuts';

/** The question asked before leaving an editor with unsaved strokes; true = discard. */
export async function confirmDiscard(): Promise<boolean> {
  const result = await showDialog({
    title: 'Discard the strokes?',
    body: 'This patch has corrections that are not accepted yet. Leave the editor and discard them?',
    buttons: [Dialog.cancelButton({ label: 'Keep editing' }), Dialog.warnButton({ label: 'Discard' })]
  });
  return result.button.accept;
}

export interface EditorCommandOptions {
  /**
   * `uga:skip-suggestion` when no editor is open (e.g. from the queue with
   * `{ rank }`); without it the command needs an open editor.
   */
  skip?: (args: ReadonlyPartialJSONObject) => void;
  /** Whether `skip` can act on `args` (default: whenever `skip` is given). */
  canSkip?: (args: ReadonlyPartialJSONObject) => boolean;
  /** Asked before cancelling with unsaved strokes; default `confirmDiscard` (a dialog). */
  confirm?: () => Promise<boolean>;
}

/**
 * Register the editor commands; `current` returns the editor they act on
 * (the focused or last active one), or null. Returns a handle that removes
 * them again.
 */
export function addEditorCommands(
  commands: CommandRegistry,
  current: () => CorrectionEditor | null,
  options: EditorCommandOptions = {}
): { dispose(): void; readonly isDisposed: boolean } {
  const active = () => {
    const e = current();
    return e && !e.isDisposed ? e : null;
  };
  const enabled = () => active() !== null;
  const handles: { dispose(): void }[] = [];
  const add = (id: string, spec: CommandRegistry.ICommandOptions) => handles.push(commands.addCommand(id, spec));

  const tool = (id: string, t: EditorTool, label: string) =>
    add(id, {
      label,
      caption: `Correction editor: ${label.toLowerCase()}`,
      isEnabled: enabled,
      isToggled: () => active()?.tool === t,
      execute: () => active()?.setTool(t)
    });
  tool(EditorCommandIDs.brush, 'brush', 'Brush');
  tool(EditorCommandIDs.eraser, 'eraser', 'Eraser');
  tool(EditorCommandIDs.polygon, 'polygon', 'Lasso');
  tool(EditorCommandIDs.fill, 'fill', 'Flood Fill');

  add(EditorCommandIDs.undo, {
    label: 'Undo Stroke',
    isEnabled: () => active()?.model.history.canUndo ?? false,
    execute: () => active()?.undo()
  });
  add(EditorCommandIDs.redo, {
    label: 'Redo Stroke',
    isEnabled: () => active()?.model.history.canRedo ?? false,
    execute: () => active()?.redo()
  });
  add(EditorCommandIDs.brushLarger, { label: 'Larger Brush', isEnabled: enabled, execute: () => active()?.brushLarger() });
  add(EditorCommandIDs.brushSmaller, { label: 'Smaller Brush', isEnabled: enabled, execute: () => active()?.brushSmaller() });
  add(EditorCommandIDs.togglePrediction, {
    label: 'Show Prediction Outline',
    isEnabled: enabled,
    isToggled: () => active()?.model.showPrediction ?? false,
    execute: () => active()?.togglePrediction()
  });
  add(EditorCommandIDs.label, {
    label: args => (args.label === IGNORE_LABEL ? 'Paint Ignore' : `Paint Class ${String(args.label ?? '')}`),
    isEnabled: enabled,
    execute: args => {
      const label = Number(args.label);
      active()?.setLabel(label);
    }
  });
  add(EditorCommandIDs.accept, {
    label: 'Accept Correction',
    caption: 'Hand the edited mask to the workspace and mark the patch corrected',
    isEnabled: enabled,
    execute: () => active()?.accept() ?? null
  });
  add(EditorCommandIDs.skip, {
    label: 'Skip Suggestion',
    caption: 'Mark the patch skipped',
    isEnabled: args => enabled() || (options.skip !== undefined && (options.canSkip?.(args) ?? true)),
    execute: args => {
      const e = active();
      if (e) {
        e.skip();
      } else {
        options.skip?.(args);
      }
    }
  });
  add(EditorCommandIDs.cancel, {
    label: 'Leave Correction Editor',
    caption: 'Close the editor without saving (asks when there are strokes)',
    isEnabled: enabled,
    execute: () => active()?.requestCancel(options.confirm ?? confirmDiscard) ?? false
  });

  let disposed = false;
  return {
    get isDisposed() {
      return disposed;
    },
    dispose() {
      if (!disposed) {
        disposed = true;
        handles.forEach(h => h.dispose());
      }
    }
  };
}
