import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { CommandToolbarButton, ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { addAnalysisCommands, ANALYSIS_PALETTE } from '../commands';
import { CommandIDs, ISlideTracker, PLUGIN_ID } from '../tokens';
import type { ISlideSettings } from '../tokens';
import { AnalysisOverlays } from '../widgets/AnalysisOverlays';
import { AnalysisProgressView } from '../widgets/AnalysisProgressView';
import { LayerControl } from '../widgets/LayerControl';
import { SuggestionQueue } from '../widgets/SuggestionQueue';

/**
 * Uncertainty analysis on slide panels: the toolbar button, heatmap / mask /
 * patch layers with their control and legend, progress with Cancel, and the
 * suggestion queue beside the viewer. tfjs loads on the first run only.
 */
export const analysisPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-uga:analysis',
  description: 'MC-dropout uncertainty heatmaps and a queue of patches to correct on slide panels.',
  autoStart: true,
  requires: [ISlideTracker],
  optional: [ICommandPalette, ISettingRegistry],
  activate: (app: JupyterFrontEnd, tracker: ISlideTracker, palette: ICommandPalette | null, settingRegistry: ISettingRegistry | null) => {
    const { commands } = app;
    addAnalysisCommands(commands, tracker);
    tracker.widgetAdded.connect((_, widget) => {
      const panel = widget.content;
      const session = panel.session;
      widget.toolbar.addItem(CommandIDs.analyzeView, new CommandToolbarButton({ commands, id: CommandIDs.analyzeView, label: '' }));
      const write = <K extends keyof ISlideSettings>(key: K, value: ISlideSettings[K]) => {
        if (settingRegistry) {
          void settingRegistry.set(PLUGIN_ID, key, value as never);
        } else {
          session.updateSettings({ [key]: value } as Partial<ISlideSettings>);
        }
      };
      const overlays = new AnalysisOverlays(session);
      const progress = new AnalysisProgressView(panel.overlayNode, session.analysis);
      const layers = new LayerControl(panel.overlayNode, session, overlays, write);
      const queue = new SuggestionQueue(session, commands);
      panel.addSideWidget(queue);
      panel.disposed.connect(() => {
        layers.dispose();
        progress.dispose();
        overlays.dispose();
      });
    });
    for (const command of ANALYSIS_PALETTE) {
      palette?.addItem({ command, category: 'Slide' });
    }
  }
};
