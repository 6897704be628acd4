/**
 * The extension's commands. Each acts on the current slide panel of the
 * tracker; they are registered by the plugins in src/plugins/.
 */
import type { CommandRegistry } from '@lumino/commands';
import { InputDialog } from '@jupyterlab/apputils';
import { uncertaintyIcon, zoomFitIcon, zoomInIcon, zoomOutIcon } from './icons';
import { BACKEND_CHOICES, settingChoices } from './settings';
import { CommandIDs, FACTORY_NAME } from './tokens';
import type { ISlidePanel, ISlideSession, ISlideSettings, ISlideTracker } from './tokens';
import { RectangleSelectTool } from './widgets/RectangleSelectTool';

/** The session of the current slide panel, or null. */
export function currentSession(tracker: ISlideTracker): ISlideSession | null {
  return tracker.currentWidget?.content.session ?? null;
}

function readySession(tracker: ISlideTracker): ISlideSession | null {
  const s = currentSession(tracker);
  return s && s.status === 'ready' ? s : null;
}

interface ZoomableViewer {
  zoomIn(): void;
  zoomOut(): void;
  zoomToFit(): void;
  zoomToActual(): void;
}

export function addViewerCommands(
  commands: CommandRegistry,
  tracker: ISlideTracker,
  overview: { get(): boolean; set(value: boolean): void }
): void {
  const viewer = () => (readySession(tracker)?.viewer ?? null) as unknown as ZoomableViewer | null;
  const hasViewer = () => viewer() !== null;
  commands.addCommand(CommandIDs.openSlide, {
    label: args => (args.path ? `Open ${args.path} as Slide` : 'Open Slide…'),
    caption: 'Open a whole-slide image in the slide viewer',
    describedBy: {
      args: { type: 'object', properties: { path: { type: 'string', description: 'Server path of the slide' } } }
    },
    execute: async args => {
      let path = args.path as string | undefined;
      if (!path) {
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
    execute: () => viewer()?.zoomIn()
  });
  commands.addCommand(CommandIDs.zoomOut, {
    label: 'Zoom Out of Slide',
    icon: zoomOutIcon,
    isEnabled: hasViewer,
    execute: () => viewer()?.zoomOut()
  });
  commands.addCommand(CommandIDs.zoomFit, {
    label: 'Fit Slide to Panel',
    icon: zoomFitIcon,
    isEnabled: hasViewer,
    execute: () => viewer()?.zoomToFit()
  });
  commands.addCommand(CommandIDs.zoomActual, {
    label: 'Zoom Slide to 100%',
    isEnabled: hasViewer,
    execute: () => viewer()?.zoomToActual()
  });
  commands.addCommand(CommandIDs.toggleOverview, {
    label: 'Show Slide Overview',
    isToggled: () => overview.get(),
    execute: () => overview.set(!overview.get())
  });
}

export const VIEWER_PALETTE = [
  CommandIDs.openSlide,
  CommandIDs.zoomIn,
  CommandIDs.zoomOut,
  CommandIDs.zoomFit,
  CommandIDs.zoomActual,
  CommandIDs.toggleOverview
];

export function addAnalysisCommands(commands: CommandRegistry, tracker: ISlideTracker): void {
  const running = () => currentSession(tracker)?.analysis.state === 'running';
  const overrides = (args: Record<string, unknown>): Partial<ISlideSettings> => ({
    backend: args.backend as ISlideSettings['backend'] | undefined,
    mcSamples: args.samples as number | undefined
  });
  const argsSchema = {
    type: 'object',
    properties: {
      backend: { type: 'string', enum: [...BACKEND_CHOICES] },
      samples: { type: 'integer', minimum: 1 },
      strategy: { type: 'string', enum: [...settingChoices('scoreStrategy')] }
    }
  };
  commands.addCommand(CommandIDs.analyzeView, {
    label: 'Analyse Uncertainty in View',
    caption: 'Run the MC-dropout model on the visible region: heatmap and patches to correct',
    icon: uncertaintyIcon,
    isEnabled: () => !!readySession(tracker) && !running(),
    describedBy: { args: argsSchema },
    execute: args => readySession(tracker)?.analysis.analyze(undefined, overrides(args))
  });
  commands.addCommand(CommandIDs.analyzeSelection, {
    label: 'Analyse Uncertainty in a Drawn Rectangle',
    caption: 'Drag a rectangle on the slide; the model runs on it',
    isEnabled: () => !!readySession(tracker) && !running(),
    describedBy: { args: argsSchema },
    execute: args => {
      const session = readySession(tracker);
      const viewer = session?.viewer;
      if (!session || !viewer) {
        return;
      }
      session.showMessage('Drag a rectangle over the region to analyse (Escape cancels).', 'info');
      viewer.setPointerTool(
        new RectangleSelectTool(viewer, rect => {
          viewer.setPointerTool(null);
          if (rect) {
            void session.analysis.analyze(rect, overrides(args));
          } else {
            session.showMessage('', 'info');
          }
        })
      );
    }
  });
  commands.addCommand(CommandIDs.cancelAnalysis, {
    label: 'Cancel Uncertainty Analysis',
    isEnabled: running,
    execute: () => currentSession(tracker)?.analysis.cancel()
  });
  commands.addCommand(CommandIDs.clearAnalysis, {
    label: 'Clear Uncertainty Heatmap',
    isEnabled: () => !!currentSession(tracker)?.analysis.result,
    execute: () => currentSession(tracker)?.analysis.clear()
  });

  const review = () => currentSession(tracker)?.review ?? null;
  const fly = (rank: number | null) => {
    const s = currentSession(tracker);
    const item = rank === null ? null : s?.review.item(rank);
    if (!s || !item) {
      return;
    }
    s.review.setCurrent(rank);
    const p = item.suggestion;
    s.viewer?.showRect(p.x, p.y, p.width, p.height);
  };
  commands.addCommand(CommandIDs.nextSuggestion, {
    label: 'Next Suggested Patch',
    caption: 'Go to the next patch still to review',
    isEnabled: () => (review()?.nextOpen(1) ?? null) !== null,
    execute: () => fly(review()?.nextOpen(1) ?? null)
  });
  commands.addCommand(CommandIDs.previousSuggestion, {
    label: 'Previous Suggested Patch',
    caption: 'Go to the previous patch still to review',
    isEnabled: () => (review()?.nextOpen(-1) ?? null) !== null,
    execute: () => fly(review()?.nextOpen(-1) ?? null)
  });
  const update = () => commands.notifyCommandChanged();
  tracker.currentChanged.connect(update);
  tracker.widgetAdded.connect((_, w) => {
    const s = w.content.session;
    s.analysis.stateChanged.connect(update);
    s.statusChanged.connect(update);
    s.review.changed.connect(update);
    s.review.currentChanged.connect(update);
  });
}

export const ANALYSIS_PALETTE = [
  CommandIDs.analyzeView,
  CommandIDs.analyzeSelection,
  CommandIDs.cancelAnalysis,
  CommandIDs.clearAnalysis,
  CommandIDs.nextSuggestion,
  CommandIDs.previousSuggestion
];

export type { ISlidePanel };
