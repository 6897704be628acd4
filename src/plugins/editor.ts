import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { CorrectionEditor } from '../editor/CorrectionEditor';
import { addEditorCommands, confirmDiscard } from '../editor/commands';
import { EditorCommandIDs } from '../editor/shortcuts';
import { correctionFor } from '../session/patches';
import { currentSession } from '../commands';
import { CommandIDs, ISlideTracker } from '../tokens';
import type { Correction, ISlidePanel } from '../tokens';

/** The panel's open editor, if any (the editor takes the viewer's place). */
function editorOf(panel: ISlidePanel | undefined): CorrectionEditor | null {
  const w = (panel as { mainWidget?: unknown } | undefined)?.mainWidget;
  return w instanceof CorrectionEditor && !w.isDisposed ? w : null;
}

/**
 * The correction editor: `uga:correct-suggestion {rank}` (or double-click on
 * a queue row) opens the patch with the model's prediction as the starting
 * mask; accept marks it corrected in the review queue (the workspace plugin
 * saves it), skip marks it skipped, Escape leaves.
 */
export const editorPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-uga:editor',
  description: 'Konva correction editor for suggested patches.',
  autoStart: true,
  requires: [ISlideTracker],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, tracker: ISlideTracker, palette: ICommandPalette | null) => {
    const { commands } = app;
    const currentEditor = () => editorOf(tracker.currentWidget?.content);
    const review = () => currentSession(tracker)?.review ?? null;
    const rankOf = (args: Record<string, unknown>) => (typeof args.rank === 'number' ? args.rank : (review()?.current ?? null));

    addEditorCommands(commands, currentEditor, {
      confirm: confirmDiscard,
      canSkip: args => {
        const r = rankOf(args);
        return r !== null && !!review()?.item(r);
      },
      skip: args => {
        const r = rankOf(args);
        const m = review();
        if (r === null || !m?.item(r)) {
          return;
        }
        m.setStatus(r, 'skipped');
        const next = m.nextOpen(1);
        if (next !== null) {
          void commands.execute(CommandIDs.nextSuggestion);
        }
      }
    });

    commands.addCommand(CommandIDs.correctSuggestion, {
      label: args => (typeof args.rank === 'number' ? `Correct Suggested Patch ${args.rank}` : 'Correct Suggested Patch'),
      caption: 'Open the patch in the correction editor, starting from the model’s prediction',
      describedBy: { args: { type: 'object', properties: { rank: { type: 'integer', minimum: 1 } } } },
      isEnabled: args => {
        const r = rankOf(args);
        const s = currentSession(tracker);
        const it = r === null ? null : s?.review.item(r);
        return !!it && (!!s?.analysis.result || !!it.correction) && !currentEditor();
      },
      execute: async args => {
        const widget = tracker.currentWidget;
        const panel = widget?.content as (ISlidePanel & { setMainWidget(w: unknown): void }) | undefined;
        const session = panel?.session;
        const rank = rankOf(args);
        const item = rank === null ? null : session?.review.item(rank);
        const result = session?.analysis.result;
        if (!panel || !session || !item || (!result && !item.correction) || !session.source || editorOf(panel)) {
          return;
        }
        session.review.setCurrent(item.suggestion.rank);
        let correction: Correction;
        if (item.correction) {
          // Known pixels (restored, or corrected before): start from the person's mask.
          correction = {
            ...item.correction,
            mask: new Uint8Array(item.correction.mask),
            image: new Uint8ClampedArray(item.correction.image)
          };
        } else {
          try {
            correction = await correctionFor(session.source, result!.region, item.suggestion, result!.model.metadata.classes);
          } catch (e) {
            session.showMessage(`Cannot open patch ${item.suggestion.rank}: ${e instanceof Error ? e.message : String(e)}`, 'error');
            return;
          }
        }
        const editor = new CorrectionEditor({ correction, commands, confirmDiscard });
        editor.title.label = `Patch ${item.suggestion.rank}`;
        const close = () => {
          panel.setMainWidget(null);
          editor.dispose();
          commands.notifyCommandChanged();
        };
        editor.accepted.connect((_, c) => {
          session.review.setStatus(item.suggestion.rank, 'corrected', c);
          close();
        });
        editor.skipRequested.connect(() => {
          session.review.setStatus(item.suggestion.rank, 'skipped');
          close();
        });
        editor.cancelled.connect(close);
        panel.setMainWidget(editor);
        commands.notifyCommandChanged();
      }
    });
    tracker.currentChanged.connect(() => commands.notifyCommandChanged());
    for (const command of [CommandIDs.correctSuggestion, EditorCommandIDs.accept, EditorCommandIDs.skip, EditorCommandIDs.cancel]) {
      palette?.addItem({ command, category: 'Slide' });
    }
  }
};
