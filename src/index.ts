import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { CommandToolbarButton, ICommandPalette, WidgetTracker } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { imageIcon } from '@jupyterlab/ui-components';
import { uncertaintyIcon, zoomFitIcon, zoomInIcon, zoomOutIcon } from './icons';
import {
  CommandIDs,
  DEFAULT_SETTINGS,
  FACTORY_NAME,
  ISlideSettings,
  ISlideTracker,
  MODEL_FACTORY_NAME,
  PLUGIN_ID
} from './tokens';
import { SlideDocument, SlideModelFactory, SlideWidgetFactory } from './widgets/factory';
import type { SlidePanel } from './widgets/SlidePanel';
import { AnalysisController } from './analysis/AnalysisController';
import { EngineService } from './analysis/EngineService';
import { configureJpeg2000 } from './slide/jpeg2000';
import { extensionStaticUrl } from './staticUrl';

const CATEGORY = 'Slide';

/** Whole-slide formats the viewer opens by default; PNG/JPEG via "Open With". */
const DEFAULT_FILE_TYPES = ['uga-svs', 'uga-ome-tiff', 'tiff'];
const ALL_FILE_TYPES = [...DEFAULT_FILE_TYPES, 'png', 'jpeg'];

/**
 * The slide viewer: file types, the `Slide` widget factory, commands,
 * settings and layout restoration.
 */
const slidePlugin: JupyterFrontEndPlugin<ISlideTracker> = {
  id: PLUGIN_ID,
  description: 'Deep-zoom whole-slide image viewer (kernel-free, HTTP range reads).',
  autoStart: true,
  provides: ISlideTracker,
  optional: [ICommandPalette, ILayoutRestorer, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null
  ): ISlideTracker => {
    const { commands, docRegistry, serviceManager } = app;
    // Aperio JPEG 2000 tiles: OpenJPEG's wasm build, served with the extension.
    configureJpeg2000({ wasmUrl: extensionStaticUrl('openjpeg', 'openjpegwasm_decode.wasm') });

    docRegistry.addFileType({
      name: 'uga-svs',
      displayName: 'Aperio slide',
      extensions: ['.svs'],
      mimeTypes: ['image/tiff'],
      fileFormat: null,
      contentType: 'file',
      icon: imageIcon
    });
    docRegistry.addFileType({
      name: 'uga-ome-tiff',
      displayName: 'OME-TIFF slide',
      extensions: ['.ome.tif', '.ome.tiff'],
      mimeTypes: ['image/tiff'],
      fileFormat: null,
      contentType: 'file',
      icon: imageIcon
    });
    docRegistry.addModelFactory(new SlideModelFactory());

    const factory = new SlideWidgetFactory(
      {
        name: FACTORY_NAME,
        label: 'Slide viewer',
        modelName: MODEL_FACTORY_NAME,
        fileTypes: ALL_FILE_TYPES,
        defaultFor: DEFAULT_FILE_TYPES,
        readOnly: true
      },
      serviceManager.serverSettings
    );
    docRegistry.addWidgetFactory(factory);

    const tracker = new WidgetTracker<SlideDocument>({ namespace: 'uga-slide' });
    factory.widgetCreated.connect((_, widget) => {
      widget.context.pathChanged.connect(() => void tracker.save(widget));
      void tracker.add(widget);
      for (const id of [CommandIDs.zoomOut, CommandIDs.zoomIn, CommandIDs.zoomFit, CommandIDs.analyzeView]) {
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
          const read = () =>
            applySettings({ ...DEFAULT_SETTINGS, ...(s.composite as unknown as ISlideSettings) });
          read();
          s.changed.connect(read);
        })
        .catch(reason => console.error('jupyterlab-uga: cannot load settings', reason));
    }

    const current = () => tracker.currentWidget?.content.viewer ?? null;
    const hasViewer = () => current() !== null;

    commands.addCommand(CommandIDs.openSlide, {
      label: args => (args.path ? `Open ${args.path} as Slide` : 'Open Slide…'),
      caption: 'Open a whole-slide image in the slide viewer',
      describedBy: {
        args: {
          type: 'object',
          properties: { path: { type: 'string', description: 'Server path of the slide' } }
        }
      },
      execute: async args => {
        let path = args.path as string | undefined;
        if (!path) {
          const { InputDialog } = await import('@jupyterlab/apputils');
          const result = await InputDialog.getText({
            title: 'Open Slide',
            label: 'Path of the slide in the workspace',
            placeholder: 'slides/example.svs'
          });
          if (!result.button.accept || !result.value) {
            return;
          }
          path = result.value;
        }
        return commands.execute('docmanager:open', { path, factory: FACTORY_NAME });
      }
    });
    commands.addCommand(CommandIDs.zoomIn, {
      label: 'Zoom In on Slide',
      icon: zoomInIcon,
      isEnabled: hasViewer,
      execute: () => current()?.zoomIn()
    });
    commands.addCommand(CommandIDs.zoomOut, {
      label: 'Zoom Out of Slide',
      icon: zoomOutIcon,
      isEnabled: hasViewer,
      execute: () => current()?.zoomOut()
    });
    commands.addCommand(CommandIDs.zoomFit, {
      label: 'Fit Slide to Panel',
      icon: zoomFitIcon,
      isEnabled: hasViewer,
      execute: () => current()?.zoomToFit()
    });
    commands.addCommand(CommandIDs.zoomActual, {
      label: 'Zoom Slide to 100%',
      isEnabled: hasViewer,
      execute: () => current()?.zoomToActual()
    });
    commands.addCommand(CommandIDs.toggleOverview, {
      label: 'Show Slide Overview',
      isToggled: () => factory.settings.showOverview,
      execute: () => {
        const value = !factory.settings.showOverview;
        if (settingRegistry) {
          return settingRegistry.set(PLUGIN_ID, 'showOverview', value);
        }
        applySettings({ ...factory.settings, showOverview: value });
      }
    });
    tracker.currentChanged.connect(() => commands.notifyCommandChanged());

    if (palette) {
      for (const command of [
        CommandIDs.openSlide,
        CommandIDs.zoomIn,
        CommandIDs.zoomOut,
        CommandIDs.zoomFit,
        CommandIDs.zoomActual,
        CommandIDs.toggleOverview
      ]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }
    return tracker;
  }
};

/**
 * Uncertainty analysis of the slide in view: heatmap, suggested patches.
 * tfjs and the engine load on the first run only.
 */
const analysisPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-uga:analysis',
  description: 'MC-dropout uncertainty heatmaps and patch suggestions on slide panels.',
  autoStart: true,
  requires: [ISlideTracker],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, tracker: ISlideTracker, palette: ICommandPalette | null) => {
    const { commands } = app;
    const service = new EngineService();
    const controllers = new WeakMap<SlidePanel, AnalysisController>();
    const controllerOf = (create: boolean): AnalysisController | null => {
      const panel = tracker.currentWidget?.content;
      if (!panel || panel.status !== 'ready') {
        return null;
      }
      let c = controllers.get(panel) ?? null;
      if (!c && create) {
        c = new AnalysisController(panel, service);
        controllers.set(panel, c);
        c.stateChanged.connect(() => commands.notifyCommandChanged());
        panel.disposed.connect(() => c!.dispose());
      }
      return c;
    };
    commands.addCommand(CommandIDs.analyzeView, {
      label: 'Analyse Uncertainty in View',
      caption: 'Run the MC-dropout model on the visible region: heatmap and patches to correct',
      icon: uncertaintyIcon,
      isEnabled: () => tracker.currentWidget?.content.status === 'ready' && controllerOf(false)?.state !== 'running',
      describedBy: {
        args: {
          type: 'object',
          properties: {
            backend: { type: 'string', enum: ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'] },
            samples: { type: 'integer', minimum: 1 }
          }
        }
      },
      execute: args =>
        controllerOf(true)?.analyze(undefined, {
          backend: args.backend as ISlideSettings['backend'] | undefined,
          mcSamples: args.samples as number | undefined
        })
    });
    commands.addCommand(CommandIDs.cancelAnalysis, {
      label: 'Cancel Uncertainty Analysis',
      isEnabled: () => controllerOf(false)?.state === 'running',
      execute: () => controllerOf(false)?.cancel()
    });
    commands.addCommand(CommandIDs.clearAnalysis, {
      label: 'Clear Uncertainty Heatmap',
      isEnabled: () => !!controllerOf(false)?.summary,
      execute: () => controllerOf(false)?.clear()
    });
    tracker.currentChanged.connect(() => commands.notifyCommandChanged());
    if (palette) {
      for (const command of [CommandIDs.analyzeView, CommandIDs.cancelAnalysis, CommandIDs.clearAnalysis]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }
  }
};

export default [slidePlugin, analysisPlugin];
