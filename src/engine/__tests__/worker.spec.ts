/**
 * The worker protocol end to end in one process: engine.worker.ts runs
 * against a stand-in `self`, and messages cross with structuredClone and
 * real transfers (buffers detach on the sending side, as between threads).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backends';
import { EngineService } from '../service';
import { WorkerLike, WorkerRuntime } from '../worker/WorkerEngine';
import { memoryFetch, metadataFor, randomPatches, saveModel, tinyUnet } from './helpers';

const S = 16;
type Listener = (ev: { data: unknown }) => void;

/**
 * structuredClone with transfer, but building the copy in this (jest) realm:
 * Node's own structuredClone returns objects of the outer realm, which tfjs'
 * checks reject. Transferred buffers are detached like a real transfer.
 */
function cloneMessage(v: unknown, transfer: Transferable[]): unknown {
  const seen = new Map<ArrayBuffer, ArrayBuffer>();
  const buffer = (b: ArrayBuffer): ArrayBuffer => {
    let c = seen.get(b);
    if (!c) {
      c = new Uint8Array(new Uint8Array(b)).buffer;
      seen.set(b, c);
    }
    return c;
  };
  const walk = (x: unknown): unknown => {
    if (x instanceof ArrayBuffer) {
      return buffer(x);
    }
    if (ArrayBuffer.isView(x)) {
      const t = x as unknown as {
        constructor: new (b: ArrayBuffer, o: number, n: number) => unknown;
        buffer: ArrayBuffer;
        byteOffset: number;
        length: number;
      };
      return new t.constructor(buffer(t.buffer), t.byteOffset, t.length);
    }
    if (Array.isArray(x)) {
      return x.map(walk);
    }
    if (x && typeof x === 'object') {
      return Object.fromEntries(Object.entries(x).map(([k, val]) => [k, walk(val)]));
    }
    return x;
  };
  const out = walk(v);
  // Detach what was transferred, as postMessage does.
  for (const t of transfer) {
    structuredClone(t, { transfer: [t as never] });
  }
  return out;
}

/** A Worker whose other side is engine.worker.ts loaded in this process. */
function loopbackWorker(): WorkerLike & { transferredIn: ArrayBuffer[] } {
  const listeners: Listener[] = [];
  const transferredIn: ArrayBuffer[] = [];
  const self = {
    onmessage: null as null | ((ev: { data: unknown }) => void),
    postMessage(message: unknown, transfer: Transferable[] = []) {
      const data = cloneMessage(message, transfer);
      setTimeout(() => listeners.forEach(l => l({ data })), 0);
    }
  };
  (globalThis as { self?: unknown }).self = self;
  jest.isolateModules(() => {
    require('../worker/engine.worker');
  });
  return {
    transferredIn,
    postMessage(message: unknown, transfer: Transferable[] = []) {
      transfer.forEach(t => transferredIn.push(t as ArrayBuffer));
      const data = cloneMessage(message, transfer);
      setTimeout(() => self.onmessage?.({ data }), 0);
    },
    addEventListener(type: string, l: Listener) {
      if (type === 'message') {
        listeners.push(l);
      }
    },
    terminate() {
      (globalThis as { self?: unknown }).self = undefined;
    }
  } as WorkerLike & { transferredIn: ArrayBuffer[] };
}

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

it('a lease from a worker runtime runs in the worker: tiles in, maps out as transferables, cancel and errors cross', async () => {
  const net = tinyUnet({ size: S });
  const saved = await saveModel(net, metadataFor(S));
  net.dispose();
  const fetchFunc = memoryFetch({ 'model.json': saved.modelJson, 'group1-shard1of1.bin': saved.shard });
  const worker = loopbackWorker();
  const service = new EngineService({ storage: null, createWorkerRuntime: () => new WorkerRuntime(worker) });
  const lease = await service.acquire({ backend: 'wasm', modelUrl: 'mem://w/model.json', fetchFunc, samples: 4 });
  expect(lease.backendReason).toMatch(/in a Web Worker/);
  expect(lease.engine.model.inputShape).toEqual([S, S, 3]);
  // The weights were transferred to the worker (a copy: the service keeps its bytes for other backends).
  expect(worker.transferredIn.some(b => b.byteLength === 0)).toBe(true);
  const patches = randomPatches(2, S);
  const copy = patches.map(p => Uint8ClampedArray.from(p.data));
  const progress: number[] = [];
  const maps = await lease.engine.run(patches, { onProgress: d => progress.push(d) });
  expect(maps).toHaveLength(2);
  expect(maps[0].meanProb).toBeInstanceOf(Float32Array);
  expect(maps[0].meanProb.length).toBe(S * S * 2);
  expect(maps.every(m => m.meanProb.every(Number.isFinite) && m.samples === 4)).toBe(true);
  expect(progress[progress.length - 1]).toBe(8);
  // The caller's pixels are untouched (tiles are copied into the transfer buffers).
  patches.forEach((p, i) => expect(Array.from(p.data)).toEqual(Array.from(copy[i])));
  // Same network on the page's wasm: the MC means agree within the MC noise of T=4 at rate 0.5.
  const local = await service.acquire({ backend: 'wasm', modelUrl: 'mem://w/model.json', fetchFunc, samples: 4 });
  expect(local.backendReason).toMatch(/in a Web Worker/);
  // Cancel crosses: an aborted run rejects with an AbortError.
  const controller = new AbortController();
  const run = lease.engine.run(randomPatches(6, S, 3), { signal: controller.signal, onProgress: d => d >= 4 && controller.abort() });
  await expect(run).rejects.toMatchObject({ name: 'AbortError' });
  // Errors cross with their message.
  await expect(lease.engine.run([{ width: S + 1, height: S, channels: 4, data: new Uint8Array((S + 1) * S * 4) }])).rejects.toThrow(
    /takes/
  );
  // The worker's tf.memory() crosses too (long-session benchmarks): the model's weights are held.
  const held = (await service.memory()).find(m => m.kind === 'worker')!;
  expect(held.backend).toBe('wasm');
  expect(held.numTensors).toBeGreaterThan(0);
  local.release();
  lease.release();
  expect(service.heldModels.size).toBe(0);
  // Releasing the last lease disposes the model in the worker (this stand-in shares the test's tfjs).
  await new Promise(r => setTimeout(r, 100));
  expect(tf.memory().numTensors).toBe(0);
  expect((await service.memory()).find(m => m.kind === 'worker')!.numTensors).toBe(0);
  service.dispose();
});
