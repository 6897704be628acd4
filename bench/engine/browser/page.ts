/**
 * Standalone page for `make bench-engine-browser`: one whole analysis of the
 * sample slide with the extension's engine service (worker or main thread),
 * while a PerformanceObserver records the main thread's long tasks.
 * Query: ?worker=1|0&backend=wasm|auto|...&samples=T
 */
import { analyzeRegion } from '../../../src/engine/region';
import { createBrowserEngineService } from '../../../src/engine/browser';
import { openSlide } from '../../../src/slide/open';

interface Result {
  seconds: number;
  tiles: number;
  longestTaskMs: number;
  totalBlockingMs: number;
  longTasks: number;
  backend: string;
  reason: string;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  worker: boolean;
  error?: string;
}

async function main(): Promise<Result> {
  const q = new URLSearchParams(location.search);
  const worker = q.get('worker') !== '0';
  const durations: number[] = [];
  // Long tasks (> 50 ms) of this page's main thread; a Worker's never show here.
  const observer = new PerformanceObserver(list => list.getEntries().forEach(e => durations.push(e.duration)));
  observer.observe({ type: 'longtask', buffered: false });
  const service = createBrowserEngineService({
    wasmPaths: new URL('/wasm/', location.href).href,
    defaultModelUrl: new URL('/model/model.json', location.href).href,
    useWorker: worker
  });
  const lease = await service.acquire({
    backend: (q.get('backend') ?? 'wasm') as 'wasm',
    modelUrl: '',
    samples: Number(q.get('samples') ?? 20)
  });
  const source = await openSlide(new URL('/slide/' + (q.get('slide') ?? 'CMU-1-Small-Region.svs'), location.href).href);
  const t0 = performance.now();
  const region = await analyzeRegion(source, { x: 0, y: 0, width: source.info.width, height: source.info.height }, lease.engine);
  const seconds = (performance.now() - t0) / 1000;
  // Let the observer deliver the last entries.
  await new Promise(r => setTimeout(r, 200));
  observer.disconnect();
  lease.release();
  return {
    seconds,
    tiles: region.tiles.filter(t => t.analyzed).length,
    longestTaskMs: Math.max(0, ...durations),
    totalBlockingMs: durations.reduce((a, d) => a + Math.max(0, d - 50), 0),
    longTasks: durations.length,
    backend: lease.backend,
    reason: lease.backendReason,
    crossOriginIsolated: self.crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
    worker
  };
}

main().then(
  r => ((window as unknown as { __result: Result }).__result = r),
  err => ((window as unknown as { __result: Partial<Result> }).__result = { error: String(err?.stack ?? err) })
);
