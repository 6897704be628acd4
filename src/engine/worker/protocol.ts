/**
 * Messages between the page and the engine worker. Pixel and map buffers
 * travel as transferables (moved, not copied).
 */
import type { AdapterFacts, BackendName } from '../backends';
import type { ModelFiles, ModelMetadata } from '../model';
import type { UncertaintyMaps } from '../../uncertainty/maps';

export interface WorkerModelInfo {
  metadata: ModelMetadata;
  inputShape: [number, number, number];
  hasDropout: boolean;
  classes: number;
}

export interface WirePatch {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
}

export type ToWorker =
  | { type: 'start'; id: number; backend: BackendName; wasmPaths?: string; wasmThreads?: number }
  | { type: 'probe'; id: number }
  | { type: 'load'; id: number; backend: BackendName; files: ModelFiles }
  | { type: 'engine'; id: number; modelId: number; samples: number }
  | { type: 'run'; id: number; engineId: number; patches: WirePatch[] }
  | { type: 'cancel'; id: number; runId: number }
  | { type: 'calibrate'; id: number; modelId: number; size: number }
  | { type: 'disposeEngine'; id: number; engineId: number }
  | { type: 'disposeModel'; id: number; modelId: number }
  /** tf.memory() of the worker's tfjs (answers a RuntimeMemory). */
  | { type: 'memory'; id: number };

export interface WireError {
  name: string;
  message: string;
  kind?: string;
}

export type FromWorker =
  | { type: 'ok'; id: number; value?: unknown }
  | { type: 'error'; id: number; error: WireError }
  | { type: 'progress'; id: number; done: number; total: number };

export type ProbeResult = AdapterFacts | null;
export interface LoadResult {
  modelId: number;
  info: WorkerModelInfo;
}
export interface EngineResult {
  engineId: number;
  samples: number;
  backend: BackendName;
}
export type RunResult = UncertaintyMaps[];

/** The buffers of maps, to transfer them. */
export function mapBuffers(maps: UncertaintyMaps[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const m of maps) {
    for (const a of [m.meanProb, m.entropy, m.mutualInformation, m.std]) {
      if (a.buffer instanceof ArrayBuffer && !out.includes(a.buffer)) {
        out.push(a.buffer);
      }
    }
  }
  return out;
}
