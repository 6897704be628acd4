/**
 * @jest-environment jsdom
 */
// Plugin activation and commands, as jupyterlab-git's plugin.spec.ts: the
// real plugins on a minimal application (real CommandRegistry and
// DocumentRegistry), a fake palette, and a fake current slide panel.
jest.mock('konva', () => ({ __esModule: true, default: {} }));
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import type { ServerConnection } from '@jupyterlab/services';
import plugins from '../../index';
import { ReviewModel } from '../../session/ReviewModel';
import { CommandIDs, FACTORY_NAME, IEngineService, ISlideTracker } from '../../tokens';
import type { SuggestedPatch } from '../../uncertainty/suggestions';

function patch(rank: number): SuggestedPatch {
  return {
    id: `p${rank}`,
    rank,
    score: 1 / rank,
    x: rank * 1000,
    y: 0,
    width: 256,
    height: 256,
    meanEntropy: 0,
    meanMutualInformation: 0,
    foregroundFraction: 0.5,
    mapRect: { x: 0, y: 0, width: 256, height: 256 },
    valid: { x: 0, y: 0, width: 256, height: 256 },
    partial: false,
    tissueFraction: 1,
    strategy: 'entropy'
  };
}

function activateAll() {
  const commands = new CommandRegistry();
  const docRegistry = new DocumentRegistry();
  const app = {
    commands,
    docRegistry,
    // Only passed through to the panels this test never opens.
    serviceManager: { serverSettings: { baseUrl: 'http://localhost/' } as ServerConnection.ISettings },
    shell: {}
  };
  const palette: { command: string; category: string }[] = [];
  const paletteToken = { addItem: (item: { command: string; category: string }) => palette.push(item) };
  const provided = new Map<unknown, unknown>();
  for (const plugin of plugins) {
    const args: unknown[] = [];
    for (const token of plugin.requires ?? []) {
      if (!provided.has(token)) {
        throw new Error(`${plugin.id} requires ${String((token as { name?: string }).name)} before it is provided`);
      }
      args.push(provided.get(token));
    }
    for (const token of plugin.optional ?? []) {
      args.push((token as { name: string }).name === '@jupyterlab/apputils:ICommandPalette' ? paletteToken : null);
    }
    const value = (plugin.activate as (...a: unknown[]) => unknown)(app, ...args);
    if (plugin.provides) {
      provided.set(plugin.provides, value);
    }
  }
  return { commands, docRegistry, palette, tracker: provided.get(ISlideTracker) as ISlideTracker, engines: provided.get(IEngineService) };
}

describe('plugins', () => {
  it('activate in dependency order and provide the engine service and the slide tracker', () => {
    const { engines, tracker } = activateAll();
    expect(typeof (engines as { acquire?: unknown }).acquire).toBe('function');
    expect(tracker.currentWidget).toBeNull();
  });

  it('register the Slide factory as the default for whole-slide files and as Open With for PNG/JPEG', () => {
    const { docRegistry } = activateAll();
    expect(docRegistry.getWidgetFactory(FACTORY_NAME)?.name).toBe(FACTORY_NAME);
    expect(docRegistry.defaultWidgetFactory('slide.svs').name).toBe(FACTORY_NAME);
    expect(docRegistry.defaultWidgetFactory('x.ome.tiff').name).toBe(FACTORY_NAME);
    expect(docRegistry.preferredWidgetFactories('photo.png').map(f => f.name)).toContain(FACTORY_NAME);
    const defaults = docRegistry.getWidgetFactory(FACTORY_NAME)!.defaultFor;
    expect(defaults).toContain('uga-svs');
    expect(defaults).not.toContain('png');
  });

  it('put every command in the Slide palette category, and none is enabled without an open slide', () => {
    const { commands, palette } = activateAll();
    const ids = Object.values(CommandIDs);
    for (const id of ids) {
      expect(commands.hasCommand(id)).toBe(true);
    }
    const listed = palette.filter(p => p.category === 'Slide').map(p => p.command);
    for (const id of [CommandIDs.analyzeView, CommandIDs.nextSuggestion, CommandIDs.zoomFit, CommandIDs.openSlide]) {
      expect(listed).toContain(id);
    }
    for (const id of [
      CommandIDs.zoomIn,
      CommandIDs.analyzeView,
      CommandIDs.cancelAnalysis,
      CommandIDs.nextSuggestion,
      CommandIDs.skipSuggestion
    ]) {
      expect(commands.isEnabled(id, {})).toBe(false);
    }
    // Opening needs no panel.
    expect(commands.isEnabled(CommandIDs.openSlide, {})).toBe(true);
    expect(commands.label(CommandIDs.openSlide, { path: 'a.svs' })).toBe('Open a.svs as Slide');
  });

  it('step through open suggestions and skip the current one on the current panel', async () => {
    const { commands, tracker } = activateAll();
    const review = new ReviewModel();
    review.reset([1, 2, 3].map(r => ({ suggestion: patch(r), status: 'suggested' as const, correction: null })));
    const shown: number[] = [];
    const session = {
      status: 'ready',
      review,
      analysis: { state: 'done', stateChanged: new Signal({}) },
      viewer: { showRect: (x: number) => shown.push(x) }
    };
    // The tracker's current widget, as the factory would have made it.
    Object.defineProperty(tracker, 'currentWidget', { get: () => ({ content: { session } }) });
    expect(commands.isEnabled(CommandIDs.nextSuggestion, {})).toBe(true);
    await commands.execute(CommandIDs.nextSuggestion);
    expect(review.current).toBe(1);
    await commands.execute(CommandIDs.skipSuggestion);
    expect(review.item(1)?.status).toBe('skipped');
    // Skipping moves on to the next open patch and flies there.
    expect(review.current).toBe(2);
    await commands.execute(CommandIDs.previousSuggestion);
    // Rank 1 is no longer open: previous from 2 wraps to 3.
    expect(review.current).toBe(3);
    expect(shown).toEqual([1000, 2000, 3000]);
    await commands.execute(CommandIDs.skipSuggestion, { rank: 2 });
    await commands.execute(CommandIDs.skipSuggestion, { rank: 3 });
    expect(commands.isEnabled(CommandIDs.nextSuggestion, {})).toBe(false);
  });
});
