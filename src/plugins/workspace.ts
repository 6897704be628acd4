import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, InputDialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { currentSession } from '../commands';
import { CorrectionsSync } from '../session/CorrectionsSync';
import { CommandIDs, ISlideTracker } from '../tokens';
import type { ISlideSession } from '../tokens';
import { CorrectionsStore } from '../workspace/CorrectionsStore';
import { describeConflict } from '../workspace/merge';
import type { Conflict, Resolution } from '../workspace/merge';
import { modelHashFromUrl } from '../workspace/modelHash';
import { correctionsFolder } from '../workspace/paths';

/** Ask which side wins when the notebook (or another tab) changed the same patches. */
async function askConflict(folder: string, conflicts: Conflict[]): Promise<Resolution> {
  const body = document.createElement('div');
  const p = document.createElement('p');
  p.textContent = `${folder}/manifest.json changed outside this panel, and these entries changed on both sides:`;
  const ul = document.createElement('ul');
  for (const c of conflicts.slice(0, 12)) {
    const li = document.createElement('li');
    li.textContent = describeConflict(c);
    ul.appendChild(li);
  }
  body.append(p, ul);
  const result = await showDialog({
    title: 'Corrections changed on disk',
    body: new Widget({ node: body }),
    buttons: [
      Dialog.cancelButton({ label: 'Cancel (keep unsaved)' }),
      Dialog.okButton({ label: 'Take theirs', displayType: 'warn', actions: ['theirs'] }),
      Dialog.okButton({ label: 'Keep mine', actions: ['mine'] })
    ]
  });
  if (!result.button.accept) {
    return 'cancel';
  }
  return result.button.actions.includes('theirs') ? 'theirs' : 'mine';
}

/**
 * Corrections in the workspace: each slide's `<slide>.uga/` folder, written
 * through the Contents API as docs/corrections-format.md specifies and read
 * back when the slide opens.
 */
export const workspacePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-uga:workspace',
  description: 'Writes corrected masks (PNG + manifest + QuPath GeoJSON) next to the slide and restores them.',
  autoStart: true,
  requires: [ISlideTracker],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, tracker: ISlideTracker, palette: ICommandPalette | null) => {
    const { commands, serviceManager } = app;
    const syncs = new WeakMap<ISlideSession, CorrectionsSync>();
    tracker.widgetAdded.connect((_, widget) => {
      const session = widget.content.session;
      const folder = correctionsFolder(widget.context.path);
      const store = new CorrectionsStore({
        contents: serviceManager.contents,
        slidePath: widget.context.path,
        resolveConflict: conflicts => askConflict(folder, conflicts)
      });
      session.corrections = store;
      const sync = new CorrectionsSync(session, store, {
        modelHash: url => modelHashFromUrl(url, url.includes('/files/') ? session.serverFetch : fetch)
      });
      syncs.set(session, sync);
      void session.ready.then(() => sync.start()).catch(() => undefined);
      widget.disposed.connect(() => {
        sync.dispose();
        store.dispose();
      });
    });
    const store = () => (currentSession(tracker)?.corrections as CorrectionsStore | null) ?? null;
    const sync = () => {
      const s = currentSession(tracker);
      return s ? (syncs.get(s) ?? null) : null;
    };

    commands.addCommand(CommandIDs.retrySave, {
      label: 'Retry Saving Corrections',
      caption: 'Write the corrections that could not be saved',
      isEnabled: () => (store()?.unsaved.length ?? 0) > 0,
      execute: () => sync()?.retry()
    });
    commands.addCommand(CommandIDs.exportGeoJSON, {
      label: 'Export Corrections as QuPath GeoJSON',
      caption: 'Write (or refresh) annotations.geojson in the slide’s corrections folder',
      isEnabled: () => !!store()?.manifest,
      execute: async () => {
        const s = store();
        const session = currentSession(tracker);
        if (!s || !session) {
          return;
        }
        try {
          const { path, features } = await s.exportGeoJSON();
          session.showMessage(`Wrote ${features} annotations to ${path}.`, 'info');
        } catch (e) {
          session.showMessage(`GeoJSON export failed: ${e instanceof Error ? e.message : String(e)}`, 'error');
        }
      }
    });
    commands.addCommand(CommandIDs.importGeoJSON, {
      label: 'Import QuPath GeoJSON as Corrections',
      caption: 'Turn annotations (Polygon, MultiPolygon) into corrected patches',
      describedBy: { args: { type: 'object', properties: { path: { type: 'string' } } } },
      isEnabled: () => !!store()?.manifest && !!currentSession(tracker)?.analysis.result,
      execute: async args => {
        const s = store();
        const session = currentSession(tracker);
        const result = session?.analysis.result;
        if (!s || !session || !result || !session.source) {
          return;
        }
        let path = args.path as string | undefined;
        if (!path) {
          const r = await InputDialog.getText({
            title: 'Import GeoJSON',
            label: 'Workspace path of a QuPath GeoJSON file',
            placeholder: 'annotations.geojson'
          });
          if (!r.button.accept || !r.value) {
            return;
          }
          path = r.value;
        }
        const source = session.source;
        const level = source.info.levels.find(l => l.index === result.region.level) ?? source.info.levels[0];
        try {
          const imported = await s.importGeoJSON(path, {
            readImage: async (box, size) => {
              const px = await source.readRegion({
                level: level.index,
                x: Math.round(box[0] / level.downsampleX),
                y: Math.round(box[1] / level.downsampleY),
                width: Math.max(1, Math.round(box[2] / level.downsampleX)),
                height: Math.max(1, Math.round(box[3] / level.downsampleY))
              });
              const { resampleRGBA } = await import('../uncertainty/tiling');
              return px.width === size && px.height === size ? px.data : resampleRGBA(px.data, px.width, px.height, size, size);
            }
          });
          if (imported.unknownClasses.length) {
            const ok = await showDialog({
              title: 'Unknown classes',
              body: `These classes are not the model's and were left out: ${imported.unknownClasses.join(', ')}. Import the rest (${imported.corrections.length} patches)?`,
              buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Import' })]
            });
            if (!ok.button.accept) {
              return;
            }
          }
          const outcome = await s.accept(imported.corrections);
          session.showMessage(
            outcome.error
              ? `Imported patches not saved: ${outcome.error.message}`
              : `Imported ${imported.corrections.length} corrected patches from ${path}.`,
            outcome.error ? 'error' : 'info'
          );
        } catch (e) {
          session.showMessage(`GeoJSON import failed: ${e instanceof Error ? e.message : String(e)}`, 'error');
        }
      }
    });
    for (const command of [CommandIDs.retrySave, CommandIDs.exportGeoJSON, CommandIDs.importGeoJSON]) {
      palette?.addItem({ command, category: 'Slide' });
    }
  }
};
