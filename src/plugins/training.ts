import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog } from '@jupyterlab/apputils';
import type { Contents } from '@jupyterlab/services';
import { currentSession } from '../commands';
import { CommandIDs, IEngineService, ISlideTracker } from '../tokens';
import type { ISlidePanel, ISlideSession } from '../tokens';
import type { CorrectionsStore } from '../workspace/CorrectionsStore';
import { correctionsFolder } from '../workspace/paths';
import { ModelRounds } from '../session/ModelRounds';
import { truthForPatch } from '../session/groundTruth';
import { ModelRoundsView } from '../widgets/ModelRoundsView';
import { CorrectionEditor } from '../editor/CorrectionEditor';

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

/** The panel's open correction editor, if any. */
function editorOf(panel: ISlidePanel | undefined): CorrectionEditor | null {
  const w = (panel as { mainWidget?: unknown } | undefined)?.mainWidget;
  return w instanceof CorrectionEditor && !w.isDisposed ? w : null;
}

/**
 * Close the loop: `uga:fine-tune` trains the current model on the slide's
 * corrected patches in the browser (with the model's confident predictions
 * on the other suggested patches as replay), writes `models/<version>/`,
 * records it in the manifest and switches the panel to it. Per panel a
 * `ModelRounds` watches `models/` for versions written elsewhere (offered
 * with `uga:switch-model`, checked before use) and measures Dice against the
 * slide's ground truth after each analysis (`uga:choose-ground-truth`).
 */
export const trainingPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-uga:training',
  description: 'In-browser fine-tuning, model versions and Dice per round for a slide.',
  autoStart: true,
  requires: [ISlideTracker, IEngineService],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, tracker: ISlideTracker, engines: IEngineService, palette: ICommandPalette | null) => {
    const { commands, serviceManager } = app;
    const running = new Map<ISlideSession, AbortController>();
    const roundsOf = new WeakMap<ISlideSession, ModelRounds>();
    const corrected = (s: ISlideSession | null) =>
      ((s?.corrections as CorrectionsStore | null)?.patches ?? []).filter(p => p.status === 'corrected');
    const currentRounds = () => {
      const s = currentSession(tracker);
      return s ? (roundsOf.get(s) ?? null) : null;
    };
    tracker.widgetAdded.connect((_, widget) => {
      const session = widget.content.session;
      const rounds = new ModelRounds({
        session,
        contents: serviceManager.contents,
        engines,
        folder: correctionsFolder(widget.context.path)
      });
      roundsOf.set(session, rounds);
      const view = new ModelRoundsView(session, rounds, commands);
      widget.content.addSideWidget(view);
      const mark = () => {
        const m = session.analysis.result?.model.metadata;
        if (m) {
          widget.content.node.dataset.ugaModel = `${m.name}@${m.version}`;
        }
      };
      session.analysis.resultChanged.connect(mark);
      rounds.changed.connect(() => commands.notifyCommandChanged());
      void session.ready.then(() => rounds.start(session.settings.modelWatchSeconds)).catch(() => undefined);
      widget.disposed.connect(() => {
        rounds.dispose();
        view.dispose();
      });
    });
    const intArg = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);
    commands.addCommand(CommandIDs.fineTune, {
      label: 'Fine-Tune the Model on the Corrected Patches',
      caption: 'Train the current model on this slide’s corrections in the browser and switch to the new version',
      describedBy: {
        args: {
          type: 'object',
          properties: {
            steps: { type: 'integer', minimum: 1 },
            batchSize: { type: 'integer', minimum: 1 },
            crop: { type: 'integer', minimum: 8 }
          }
        }
      },
      isEnabled: () => {
        const s = currentSession(tracker);
        return !!s && !running.has(s) && !roundsOf.get(s)?.switching && !!s.analysis.result && corrected(s).length > 0;
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
            settings: Object.fromEntries(
              Object.entries({ steps: intArg(args.steps), batchSize: intArg(args.batchSize), crop: intArg(args.crop) }).filter(
                ([, v]) => v !== undefined
              )
            ),
            signal: abort.signal,
            onProgress: p =>
              session.showMessage(
                `Fine-tuning on ${patches.length} patches: step ${p.step}/${p.steps}, loss ${p.loss.toFixed(3)}, ~${Math.ceil(p.etaSeconds)} s left.`,
                'info'
              ),
            onWarning: text => session.showMessage(text, 'warning')
          });
          roundsOf.get(session)?.noteOwnVersion(version);
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
    commands.addCommand(CommandIDs.switchModel, {
      label: args => (typeof args.version === 'string' ? `Switch to Model Version ${args.version}` : 'Switch to the Offered Model Version'),
      caption: 'Check a model version of the slide’s folder, use it in this panel and re-run the analysis',
      describedBy: { args: { type: 'object', properties: { version: { type: 'string' } } } },
      isEnabled: args => {
        const s = currentSession(tracker);
        const r = currentRounds();
        return !!s && !!r && !r.switching && !running.has(s) && (typeof args.version === 'string' || !!r.offer);
      },
      execute: async args => {
        const r = currentRounds();
        const version = typeof args.version === 'string' ? args.version : r?.offer?.version;
        if (r && version) {
          return r.switchTo(version);
        }
        return false;
      }
    });
    commands.addCommand(CommandIDs.chooseGroundTruth, {
      label: 'Choose Ground Truth for Dice…',
      caption: 'A class-index mask (PNG or TIFF) of the whole slide, to measure Dice before and after each round',
      describedBy: { args: { type: 'object', properties: { path: { type: 'string' } } } },
      isEnabled: () => !!currentRounds(),
      execute: async args => {
        const r = currentRounds();
        const s = currentSession(tracker);
        if (!r || !s) {
          return false;
        }
        let path = typeof args.path === 'string' ? args.path : null;
        if (path === null) {
          const answer = await InputDialog.getText({
            title: 'Ground truth for Dice',
            label: 'Workspace path of a mask (PNG or TIFF; a class index per pixel, 255 = ignore; any resolution covering the slide):',
            text: r.truth?.path ?? `${s.path}.mask.png`
          });
          path = answer.button.accept ? answer.value : null;
        }
        return path ? r.chooseTruth(path) : false;
      }
    });
    commands.addCommand(CommandIDs.fillFromGroundTruth, {
      label: 'Fill the Patch from the Ground Truth',
      caption: 'Replace the mask in the editor with the slide’s ground truth (teaching and benchmarking; one undo step)',
      isEnabled: () => !!editorOf(tracker.currentWidget?.content) && !!currentRounds()?.truth,
      execute: () => {
        const editor = editorOf(tracker.currentWidget?.content);
        const truth = currentRounds()?.truth;
        const info = currentSession(tracker)?.source?.info;
        if (!editor || !truth || !info) {
          return false;
        }
        const c = editor.correction;
        return editor.replaceMask(truthForPatch(truth, c.box, c.patchSize, info.width, info.height), 'ground truth');
      }
    });
    for (const command of [
      CommandIDs.fineTune,
      CommandIDs.cancelFineTune,
      CommandIDs.switchModel,
      CommandIDs.chooseGroundTruth,
      CommandIDs.fillFromGroundTruth
    ]) {
      palette?.addItem({ command, category: 'Slide' });
    }
  }
};
