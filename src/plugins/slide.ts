import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { CommandToolbarButton, ICommandPalette, WidgetTracker } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { imageIcon } from '@jupyterlab/ui-components';
import { addViewerCommands, VIEWER_PALETTE } from '../commands';
import { readSettings } from '../settings';
import { configureJpeg2000 } from '../slide/jpeg2000';
import { extensionStaticUrl } from '../staticUrl';
import { CommandIDs, FACTORY_NAME, IEngineService, ISlideTracker, MODEL_FACTORY_NAME, PLUGIN_ID } from '../tokens';
import type { ISlideSettings } from '../tokens';
import { SlideDocument, SlideModelFactory, SlideWidgetFactory } from '../widgets/factory';

const CATEGORY = 'Slide';

/** Whole-slide formats the viewer opens by default; PNG/JPEG via "Open With". */
const DEFAULT_FILE_TYPES = ['uga-svs', 'uga-ome-tiff', 'tiff'];
const ALL_FILE_TYPES = [...DEFAULT_FILE_TYPES, 'png', 'jpeg'];

/** The slide viewer: file types, the `Slide` widget factory, viewer commands, settings, layout restoration. */
export const slidePlugin: JupyterFrontEndPlugin<ISlideTracker> = {
  id: PLUGIN_ID,
  description: 'Deep-zoom whole-slide image viewer (kernel-free, HTTP range reads).',
  autoStart: true,
  provides: ISlideTracker,
  requires: [IEngineService],
  optional: [ICommandPalette, ILayoutRestorer, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    engines: IEngineService,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null
  ): ISlideTracker => {
    const { commands, docRegistry, serviceManager } = app;
    // Aperio JPEG 2000 tiles: OpenJPEG's wasm build, served with the extension.
    configureJpeg2000({ wasmUrl: extensionStaticUrl('openjpeg', 'openjpegwasm_decode.wasm') });
    for (const [name, displayName, extensions] of [
      ['uga-svs', 'Aperio slide', ['.svs']],
      ['uga-ome-tiff', 'OME-TIFF slide', ['.ome.tif', '.ome.tiff']]
    ] as const) {
      docRegistry.addFileType({
        name,
        displayName,
        extensions: [...extensions],
        mimeTypes: ['image/tiff'],
        fileFormat: null,
        contentType: 'file',
        icon: imageIcon
      });
    }
    docRegistry.addModelFactory(new SlideModelFactory());
    const factory = new SlideWidgetFactory({
      name: FACTORY_NAME,
      label: 'Slide viewer',
      modelName: MODEL_FACTORY_NAME,
      fileTypes: ALL_FILE_TYPES,
      defaultFor: DEFAULT_FILE_TYPES,
      readOnly: true,
      engines,
      serverSettings: serviceManager.serverSettings
    });
    docRegistry.addWidgetFactory(factory);

    const tracker = new WidgetTracker<SlideDocument>({ namespace: 'uga-slide' });
    factory.widgetCreated.connect((_, widget) => {
      widget.context.pathChanged.connect(() => void tracker.save(widget));
      void tracker.add(widget);
      for (const id of [CommandIDs.zoomOut, CommandIDs.zoomIn, CommandIDs.zoomFit]) {
        widget.toolbar.addItem(id, new CommandToolbarButton({ commands, id, label: '' }));
      }
    });
    if (restorer) {
      void restorer.restore(tracker, {
        command: 'docmanager:open',
        args: widget => ({ path: widget.context.path, factory: FACTORY_NAME }),
        name: widget => widget.context.path
      });
    }

    const applySettings = (settings: ISlideSettings) => {
      factory.settings = settings;
      tracker.forEach(w => w.content.updateSettings(settings));
    };
    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(s => {
          const read = () => applySettings(readSettings(s.composite));
          read();
          s.changed.connect(read);
        })
        .catch(reason => console.error('jupyterlab-uga: cannot load settings', reason));
    }

    addViewerCommands(commands, tracker, {
      get: () => factory.settings.showOverview,
      set: value => {
        if (settingRegistry) {
          void settingRegistry.set(PLUGIN_ID, 'showOverview', value);
        } else {
          applySettings({ ...factory.settings, showOverview: value });
        }
      }
    });
    tracker.currentChanged.connect(() => commands.notifyCommandChanged());
    tracker.widgetAdded.connect((_, w) => w.content.session.statusChanged.connect(() => commands.notifyCommandChanged()));
    for (const command of VIEWER_PALETTE) {
      palette?.addItem({ command, category: CATEGORY });
    }
    return tracker;
  }
};
