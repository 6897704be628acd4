/**
 * Patch suggestion off the page's main thread: on a whole-slide map
 * suggestPatches takes 70-180 ms (summed-area tables, candidate scores, NMS),
 * one long task if run on the page.
 */
import { suggestPatches } from './suggestions';
import type { SuggestRequest, SuggestResponse } from './suggestOffThread';

interface WorkerScope {
  postMessage(message: SuggestResponse): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent<SuggestRequest>) => void): void;
}

const scope = self as unknown as WorkerScope;
scope.addEventListener('message', e => {
  const { id, maps, options } = e.data;
  try {
    scope.postMessage({ id, suggestions: suggestPatches(maps, options) });
  } catch (err) {
    scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
