/**
 * EngineService on the main thread in Node: two panels on two backends (cpu
 * and wasm) share one tfjs runtime; neither's release nor a backend switch
 * may break the other's run. And the 'auto' decision logic.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendCandidate, decideBackend, initBackend, softwareAdapterReason } from '../backends';
import { EngineService } from '../service';
import { McDropout } from '../mcdropout';
import { SegmentationModel, parseMetadata } from '../model';
import { memoryFetch, metadataFor, randomPatches, saveModel, tinyUnet } from './helpers';

const S = 16;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
  }
  return m;
}

async function modelFetch(seed: number): Promise<typeof fetch> {
  const net = tinyUnet({ size: S, seed });
  const saved = await saveModel(net, metadataFor(S));
  net.dispose();
  return memoryFetch({ 'model.json': saved.modelJson, 'group1-shard1of1.bin': saved.shard });
}

class MemoryStorage {
  items = new Map<string, string>();
  getItem(k: string): string | null {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.items.set(k, v);
  }
}

beforeAll(async () => {
  // Both backends registered; the service switches between them.
  expect(await initBackend('cpu')).toBe('cpu');
  expect(await initBackend('wasm')).toBe('wasm');
});

describe('EngineService', () => {
  it('two leases on cpu and wasm run interleaved; releasing one never breaks the other', async () => {
    const service = new EngineService({ storage: null });
    const fetchFunc = await modelFetch(1);
    const a = await service.acquire({ backend: 'cpu', modelUrl: 'mem://m/model.json', fetchFunc, samples: 6 });
    const b = await service.acquire({ backend: 'wasm', modelUrl: 'mem://m/model.json', fetchFunc, samples: 6 });
    expect(a.backend).toBe('cpu');
    expect(b.backend).toBe('wasm');
    expect(a.backendReason).toMatch(/cpu: set in the settings \(on the main thread\)/);
    // Same model, two backends: two models, one lease each.
    expect([...service.heldModels.values()]).toEqual([1, 1]);
    const patches = randomPatches(3, S);
    // Reference numbers from each backend alone (dropout rate 0.5, so seeds differ; compare means loosely below).
    const [ra, rb] = await Promise.all([a.engine.run(patches), b.engine.run(patches)]);
    expect(ra).toHaveLength(3);
    expect(rb).toHaveLength(3);
    // The two backends compute the same network: MC means agree within MC noise.
    for (let i = 0; i < 3; i++) {
      expect(maxAbsDiff(ra[i].meanProb, rb[i].meanProb)).toBeLessThan(0.6);
      expect(ra[i].meanProb.every(Number.isFinite)).toBe(true);
    }
    // Release A while B runs: B finishes with valid maps; A's model is gone, B's stays.
    const running = b.engine.run(patches);
    a.release();
    a.release(); // idempotent
    const after = await running;
    expect(after.every(m => m.meanProb.every(Number.isFinite))).toBe(true);
    expect([...service.heldModels.values()]).toEqual([1]);
    await expect(a.engine.run(patches)).rejects.toThrow(/released/);
    // A panel switching to cpu again (a new lease) while B runs: both fine, and
    // the backend is wasm again for B's ops (its tensors never moved to cpu).
    const c = await service.acquire({ backend: 'cpu', modelUrl: 'mem://m/model.json', fetchFunc, samples: 2 });
    const [rc, rb2] = await Promise.all([c.engine.run(patches.slice(0, 1)), b.engine.run(patches.slice(0, 1))]);
    expect(rc[0].meanProb.every(Number.isFinite)).toBe(true);
    expect(rb2[0].meanProb.every(Number.isFinite)).toBe(true);
    c.release();
    b.release();
    expect(service.heldModels.size).toBe(0);
  });

  it('interleaved runs on two backends give exactly the numbers of each run alone (same seeds)', async () => {
    // McDropout directly, on models built on each backend: the gate keeps each run's ops on its backend.
    const make = async (backend: 'cpu' | 'wasm') => {
      await tf.setBackend(backend);
      return new SegmentationModel(tinyUnet({ size: S, seed: 3 }), parseMetadata(metadataFor(S)), backend);
    };
    const mc = await make('cpu');
    const mw = await make('wasm');
    const patches = randomPatches(2, S, 4);
    const aloneC = await new McDropout(mc, { samples: 5, seed: 9, maxBatch: 2 }).run(patches);
    const aloneW = await new McDropout(mw, { samples: 5, seed: 9, maxBatch: 2 }).run(patches);
    const before = tf.memory().numTensors;
    const [c, w] = await Promise.all([
      new McDropout(mc, { samples: 5, seed: 9, maxBatch: 2 }).run(patches),
      new McDropout(mw, { samples: 5, seed: 9, maxBatch: 2 }).run(patches)
    ]);
    expect(maxAbsDiff(c[1].meanProb, aloneC[1].meanProb)).toBe(0);
    expect(maxAbsDiff(w[1].meanProb, aloneW[1].meanProb)).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    // Every weight stayed on the backend it was built on.
    const engine = tf.engine() as unknown as { state: { tensorInfo: Map<object, { backend: unknown }> }; findBackend(n: string): unknown };
    for (const [m, name] of [
      [mc, 'cpu'],
      [mw, 'wasm']
    ] as const) {
      for (const v of m.layersModel.weights) {
        expect(engine.state.tensorInfo.get(v.read().dataId)?.backend).toBe(engine.findBackend(name));
      }
    }
    mc.dispose();
    mw.dispose();
  });

  it('auto calibrates wasm against cpu-only alternatives, caches it, and says why', async () => {
    const storage = new MemoryStorage();
    const fetchFunc = await modelFetch(2);
    // Node: no WebGPU adapter, no WebGL; wasm and cpu usable. cpu is timed only when alone,
    // so restrict to both to force a real calibration.
    const service = new EngineService({ storage, hasWebGL: () => false, calibrationSize: 16 });
    const lease = await service.acquire({ backend: 'auto', modelUrl: 'mem://a/model.json', fetchFunc, samples: 2 });
    expect(lease.backend).toBe('wasm');
    expect(lease.backendReason).toMatch(/webgpu skipped: no WebGPU adapter/);
    expect(lease.backendReason).toMatch(/webgl skipped: no WebGL here/);
    expect(lease.backendReason).toMatch(/cpu not timed/);
    // Only wasm was a timed candidate: no calibration pass, nothing cached.
    expect(storage.items.size).toBe(0);
    lease.release();
    // Timing cpu too: a real calibration of both, on the loaded model.
    const opts = {
      storage,
      hasWebGL: () => false,
      calibrationSize: 16,
      autoCandidates: ['wasm', 'cpu'] as ('wasm' | 'cpu')[],
      calibrateCpu: true
    };
    const both = new EngineService(opts);
    const stages: string[] = [];
    const l2 = await both.acquire({ backend: 'auto', modelUrl: 'mem://a/model.json', fetchFunc, samples: 2 }, s => stages.push(s));
    expect(stages).toEqual(expect.arrayContaining(['Timing wasm…', 'Timing cpu…']));
    expect(storage.items.size).toBe(1);
    const saved = JSON.parse([...storage.items.values()][0]) as { timings: Record<string, number> };
    expect(saved.timings.wasm).toBeGreaterThan(0);
    expect(saved.timings.cpu).toBeGreaterThan(0);
    // The decision follows the measured numbers, whichever way they came out.
    const faster = saved.timings.wasm <= saved.timings.cpu ? 'wasm' : 'cpu';
    expect(l2.backend).toBe(faster);
    expect(l2.backendReason).toMatch(new RegExp(`^auto: ${faster} [0-9.]+x faster than ${faster === 'wasm' ? 'cpu' : 'wasm'}`));
    // The loser's calibration model is released once the winner holds its own.
    expect([...both.heldModels.entries()]).toEqual([[expect.stringMatching(new RegExp(`^main\\|${faster}\\|`)), 1]]);
    l2.release();
    expect(both.heldModels.size).toBe(0);
    // Another service (a reload) with the same storage: no timing, the cached decision.
    const again = new EngineService(opts);
    const stages2: string[] = [];
    const l3 = await again.acquire({ backend: 'auto', modelUrl: 'mem://a/model.json', fetchFunc, samples: 2 }, s => stages2.push(s));
    expect(stages2.some(s => s.startsWith('Timing'))).toBe(false);
    expect(l3.backend).toBe(faster);
    expect(l3.backendReason).toMatch(/calibration cached/);
    l3.release();
  });
});

describe('decideBackend (pure)', () => {
  const all = (over: Partial<Record<string, string>> = {}): BackendCandidate[] =>
    (['webgpu', 'webgl', 'wasm', 'cpu'] as const).map(name =>
      over[name] ? { name, usable: false, why: over[name] } : { name, usable: true }
    );

  it('picks the fastest timed backend, not a fixed order, with the margin in the reason', () => {
    const d = decideBackend(all(), { webgpu: 40, webgl: 25, wasm: 60 });
    expect(d.backend).toBe('webgl');
    expect(d.reason).toMatch(/^auto: webgl 1\.6x faster than webgpu \(25 vs 40 ms/);
    expect(decideBackend(all(), { webgpu: 5, wasm: 60 }).backend).toBe('webgpu');
  });

  it('never picks an excluded backend, whatever its time, and says why it was skipped', () => {
    const d = decideBackend(all({ webgpu: 'the WebGPU adapter is SwiftShader (software)', webgl: 'no WebGL here' }), {
      webgpu: 1,
      wasm: 50,
      cpu: 900
    });
    expect(d.backend).toBe('wasm');
    expect(d.reason).toMatch(/webgpu skipped: the WebGPU adapter is SwiftShader \(software\)/);
    expect(d.reason).toMatch(/18\.0x faster than cpu/);
  });

  it('without timings falls back to the usual order; nothing usable is an error', () => {
    expect(decideBackend(all({ webgpu: 'no adapter' }), {}).backend).toBe('webgl');
    expect(() => decideBackend(all({ webgpu: 'a', webgl: 'b', wasm: 'c', cpu: 'd' }), {})).toThrow(/No tfjs backend can run here/);
  });

  it('recognises software adapters by flag or by name', () => {
    expect(softwareAdapterReason({ isFallbackAdapter: true })).toMatch(/fallback/);
    expect(softwareAdapterReason({ vendor: 'google', architecture: 'swiftshader' })).toMatch(/SwiftShader \(software\)/);
    expect(softwareAdapterReason({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toMatch(/llvmpipe/);
    expect(softwareAdapterReason({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' })).toBeNull();
    expect(softwareAdapterReason({ vendor: 'apple', architecture: 'metal-3' })).toBeNull();
  });
});
