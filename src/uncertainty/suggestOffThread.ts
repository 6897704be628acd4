/**
 * suggestPatches in a Web Worker where there is one (the browser), in line
 * otherwise (Node, jsdom) or when the worker fails: same inputs, same result.
 * The maps the suggestion reads (entropy, mutual information, mean
 * probability) are copied to the worker; the page keeps its own.
 */
import type { UncertaintyMaps } from './maps';
import type { SuggestedPatch, SuggestOptions } from './suggestions';

export interface SuggestRequest {
  id: number;
  maps: UncertaintyMaps;
  options: SuggestOptions;
}

export type SuggestResponse = { id: number; suggestions: SuggestedPatch[]; error?: undefined } | { id: number; error: string };

let worker: Promise<Worker | null> | null = null;
let nextId = 1;
const pending = new Map<number, { resolve: (s: SuggestedPatch[]) => void; reject: (e: Error) => void }>();

function startWorker(): Promise<Worker | null> {
  if (typeof Worker === 'undefined' || typeof window === 'undefined') {
    return Promise.resolve(null);
  }
  return import('./suggestWorker')
    .then(({ createSuggestWorker }) => {
      const w = createSuggestWorker();
      w.addEventListener('message', (e: MessageEvent<SuggestResponse>) => {
        const p = pending.get(e.data.id);
        pending.delete(e.data.id);
        if (e.data.error !== undefined) {
          p?.reject(new Error(e.data.error));
        } else {
          p?.resolve(e.data.suggestions);
        }
      });
      w.addEventListener('error', () => {
        // A worker that cannot start: every waiting call and the later ones run in line.
        worker = Promise.resolve(null);
        for (const p of pending.values()) {
          p.reject(new WorkerFailed());
        }
        pending.clear();
      });
      return w;
    })
    .catch(() => null);
}

class WorkerFailed extends Error {}

async function inLine(maps: UncertaintyMaps, options: SuggestOptions): Promise<SuggestedPatch[]> {
  const { suggestPatches } = await import('./suggestions');
  return suggestPatches(maps, options);
}

export async function suggestPatchesOffThread(maps: UncertaintyMaps, options: SuggestOptions): Promise<SuggestedPatch[]> {
  worker = worker ?? startWorker();
  const w = await worker;
  if (!w) {
    return inLine(maps, options);
  }
  const id = nextId++;
  const { width, height, classes, samples, entropy, mutualInformation, meanProb } = maps;
  const request: SuggestRequest = {
    id,
    maps: { width, height, classes, samples, entropy, mutualInformation, meanProb, std: new Float32Array(0) },
    options
  };
  try {
    return await new Promise<SuggestedPatch[]>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      w.postMessage(request);
    });
  } catch (e) {
    if (e instanceof WorkerFailed) {
      return inLine(maps, options);
    }
    throw e;
  }
}
