import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import type { Contents } from '@jupyterlab/services';
import { currentSession } from '../commands';
import { CommandIDs, ISlideTracker } from '../tokens';
import type { ISlideSession } from '../tokens';
import type { CorrectionsStore } from '../workspace/CorrectionsStore';

/** Next numeric model version of a folder ("1", "2", ...). */
export function nextVersion(existing: readonly string[]): string {
  const n = existing.map(v => Number(v)).filter(v => Number.isInteger(v) && v > 0);
  return String(n.length ? Math.max(...n) + 1 : 1);
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * Write `models/<version>/` atomically: the files go to a temporary folder
 * that is renamed into place once complete, so a reader never sees half a model.
 */
async function writeModel(
  contents: Contents.IManager,
  folder: string,
  version: string,
  files: Record<string, Uint8Array>
): Promise<string> {
  const models = `${folder}/models`;
  const tmp = `${models}/${version}.tmp-${Date.now().toString(36)}`;
  const target = `${models}/${version}`;
  await contents.save(models, { type: 'directory' }).catch(() => undefined);
  await contents.save(tmp, { type: 'directory' });
  for (const [name, bytes] of Object.entries(files)) {
    if (name.endsWith('.json')) {
      await contents.save(`${tmp}/${name}`, { type: 'file', format: 'text', content: new TextDecoder().decode(bytes) });
    } else {
      await contents.save(`${tmp}/${name}`, { type: 'file', format: 'base64', content: toBase64(bytes) });
    }
  }
  await contents.rename(tmp, target);
  return `${target}/model.json`;
}

/**
 * Close the loop in the browser: `uga:fine-tune` trains the current model on
 * the slide's corrected patches (with the model's confident predictions on
 * the other suggested patches as replay), writes `models/<version>/`, records
 * it in the manifest and switches the panel to it. Progress and Cancel in the
 * panel's message line; the page yields between steps.
 */
export const trainingPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-uga:training',
  description: 'In-browser fine-tuning on the corrected patches of a slide.',
  autoStart: true,
  requires: [ISlideTracker],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, tracker: ISlideTracker, palette: ICommandPalette | null) => {
    const { commands, serviceManager } = app;
    const running = new Map<ISlideSession, AbortController>();
    const corrected = (s: ISlideSession | null) =>
      ((s?.corrections as CorrectionsStore | null)?.patches ?? []).filter(p => p.status === 'corrected');
    tracker.widgetAdded.connect((_, widget) => {
      const session = widget.content.session;
      const mark = () => {
        const m = session.analysis.result?.model.metadata;
        if (m) {
          widget.content.node.dataset.ugaModel = `${m.name}@${m.version}`;
        }
      };
      session.analysis.resultChanged.connect(mark);
    });
    commands.addCommand(CommandIDs.fineTune, {
      label: 'Fine-Tune the Model on the Corrected Patches',
      caption: 'Train the current model on this slide’s corrections in the browser and switch to the new version',
      describedBy: { args: { type: 'object', properties: { steps: { type: 'integer', minimum: 1 } } } },
      isEnabled: () => {
        const s = currentSession(tracker);
        return !!s && !running.has(s) && !!s.analysis.result && corrected(s).length > 0;
      },
      execute: async args => {
        const session = currentSession(tracker);
        const store = session?.corrections as CorrectionsStore | null;
        const result = session?.analysis.result;
        if (!session || !store || !result || running.has(session)) {
          return;
        }
        const patches = corrected(session);
        const abort = new AbortController();
        running.set(session, abort);
        commands.notifyCommandChanged();
        try {
          const training = await import('../training/finetune');
          const { loadSegmentationModel } = await import('../engine/model');
          const url = result.modelUrl;
          session.showMessage('Fine-tuning: reading the model…', 'info');
          const parent = await training.fetchModelFiles(url, url.includes('/files/') ? session.serverFetch : fetch);
          // Replay: the model's own confident predictions on the patches nobody corrected.
          const others = store.patches.filter(p => p.status === 'suggested').slice(0, 16);
          let replay: Awaited<ReturnType<typeof training.pseudoLabelReplay>> = [];
          if (others.length) {
            const model = await loadSegmentationModel(training.filesHandler(parent));
            try {
              replay = await training.pseudoLabelReplay(model, others);
            } finally {
              model.dispose();
            }
          }
          const version = nextVersion((store.manifest?.models ?? []).map(m => m.version));
          const parentHash = store.manifest?.model.hash || null;
          const out = await training.fineTune({
            parent,
            patches,
            replay,
            version,
            parentHash,
            settings: typeof args.steps === 'number' ? { steps: args.steps } : {},
            signal: abort.signal,
            onProgress: p =>
              session.showMessage(
                `Fine-tuning on ${patches.length} patches: step ${p.step}/${p.steps}, loss ${p.loss.toFixed(3)}, ~${Math.ceil(p.etaSeconds)} s left (Slide → Cancel Fine-Tuning).`,
                'info'
              ),
            onWarning: text => session.showMessage(text, 'warning')
          });
          const modelJson = await writeModel(serviceManager.contents, store.folder, version, out.files);
          const entry = training.modelsEntry(out, version, parentHash);
          const saved = await store.recordModel({
            version,
            hash: entry.hash,
            parentHash,
            patches: entry.patches,
            settings: entry.settings
          });
          if (saved.error) {
            throw saved.error;
          }
          // This panel switches to the new version; the analysis re-runs with it.
          session.updateSettings({ modelPath: modelJson });
          session.showMessage(
            `Model version ${version} trained in ${out.seconds.toFixed(0)} s on ${out.backend} and saved to ${modelJson}; re-analysing with it.`,
            'info'
          );
          const region = result.region.region;
          void session.analysis.analyze(region);
        } catch (e) {
          session.showMessage(
            abort.signal.aborted
              ? 'Fine-tuning cancelled; the model is unchanged.'
              : `Fine-tuning failed: ${e instanceof Error ? e.message : String(e)}`,
            abort.signal.aborted ? 'info' : 'error'
          );
        } finally {
          running.delete(session);
          commands.notifyCommandChanged();
        }
      }
    });
    commands.addCommand(CommandIDs.cancelFineTune, {
      label: 'Cancel Fine-Tuning',
      isEnabled: () => running.has(currentSession(tracker)!),
      execute: () => running.get(currentSession(tracker)!)?.abort()
    });
    for (const command of [CommandIDs.fineTune, CommandIDs.cancelFineTune]) {
      palette?.addItem({ command, category: 'Slide' });
    }
  }
};
