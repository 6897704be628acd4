/**
 * Standalone page for `make bench-engine-browser`: one whole analysis of the
 * sample slide with the extension's engine service (worker or main thread),
 * while a PerformanceObserver records the main thread's long tasks.
 * Query: ?worker=1|0&backend=wasm|auto|...&samples=T&slide=NAME[&hold=1]
 *   &region=x,y,w,h (part of the slide)
 *   &compare=1: first decode a region on the page and in the decoder workers, compare
 *   &session=ANALYSES,PANS[&sourceCache=BYTES&viewerCache=BYTES&side=SIDE]: a long session (session.ts) instead.
 */
import { analyzeRegion } from '../../../src/engine/region';
import { createBrowserEngineService } from '../../../src/engine/browser';
import { configureJpeg2000 } from '../../../src/slide/jpeg2000';
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
  wasmThreads: number | null;
  /** [start ms, duration ms] of each long task. */
  tasks: [number, number][];
  error?: string;
  session?: import('./session').SessionResult;
  /** &compare=1: a region decoded on the page vs in the decoder workers. */
  decodeCheck?: { same: boolean; pageMs: number; workersMs: number };
  /** Single analysis: the panel's main-thread steps after it, ms each. */
  after?: import('./after').AfterSteps;
}

async function main(): Promise<Result> {
  const q = new URLSearchParams(location.search);
  const worker = q.get('worker') !== '0';
  // As the extension does (plugins/slide.ts): OpenJPEG's wasm build for Aperio JPEG 2000 tiles.
  configureJpeg2000({ wasmUrl: new URL('/openjpeg/openjpegwasm_decode.wasm', location.href).href });
  if (q.get('hold') === '1') {
    // The driver starts a profiler first, then calls __go().
    await new Promise<void>(r => ((window as unknown as { __go: () => void }).__go = r));
  }
  // Before the long-task window: decoding on the page is a long task by design.
  let decodeCheck: Result['decodeCheck'];
  if (q.get('compare') === '1') {
    // The pool's decoder workers must give the pixels the page's own decoders give.
    const url = new URL('/slide/' + (q.get('slide') ?? 'CMU-1-Small-Region.svs'), location.href).href;
    const local = await openSlide(url, { decodeWorkers: 0 });
    const pooled = await openSlide(url);
    const side = Math.min(1024, local.info.width, local.info.height);
    const rect = {
      level: 0,
      x: Math.floor((local.info.width - side) / 2),
      y: Math.floor((local.info.height - side) / 2),
      width: side,
      height: side
    };
    const a0 = performance.now();
    const a = await local.readRegion(rect);
    const a1 = performance.now();
    const b = await pooled.readRegion(rect);
    const b1 = performance.now();
    decodeCheck = { same: a.data.length === b.data.length && a.data.every((v, i) => v === b.data[i]), pageMs: a1 - a0, workersMs: b1 - a1 };
    local.dispose();
    pooled.dispose();
  }
  const durations: number[] = [];
  const tasks: [number, number][] = [];
  // Long tasks (> 50 ms) of this page's main thread; a Worker's never show here.
  const observer = new PerformanceObserver(list =>
    list.getEntries().forEach(e => {
      durations.push(e.duration);
      tasks.push([Math.round(e.startTime), Math.round(e.duration)]);
    })
  );
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
  const session = q.get('session');
  const source = await openSlide(new URL('/slide/' + (q.get('slide') ?? 'CMU-1-Small-Region.svs'), location.href).href, {
    cacheBytes: q.get('sourceCache') ? Number(q.get('sourceCache')) : undefined
  });
  const t0 = performance.now();
  let tiles = 0;
  let seconds: number | undefined;
  let after: import('./after').AfterSteps | undefined;
  let sessionResult: import('./session').SessionResult | undefined;
  if (session) {
    const [analyses, pans] = session.split(',').map(Number);
    const { runSession } = await import('./session');
    sessionResult = await runSession(service, lease.engine, source, {
      analyses,
      pans,
      viewerCacheBytes: Number(q.get('viewerCache') ?? 16 * 1024 * 1024),
      regionSide: Number(q.get('side') ?? 1100),
      viewport: { width: 1280, height: 800 }
    });
  } else {
    // &region=x,y,w,h (level-0 px): part of the slide; default the whole slide.
    const r = q.get('region')?.split(',').map(Number);
    const rect =
      r?.length === 4
        ? { x: r[0], y: r[1], width: r[2], height: r[3] }
        : { x: 0, y: 0, width: source.info.width, height: source.info.height };
    const region = await analyzeRegion(source, rect, lease.engine);
    tiles = region.tiles.filter(t => t.analyzed).length;
    seconds = (performance.now() - t0) / 1000;
    // After the analysis (not in the long-task figures above): the panel's own main-thread steps.
    await new Promise(r => setTimeout(r, 200));
    observer.disconnect();
    const { afterAnalysis } = await import('./after');
    after = await afterAnalysis(region);
  }
  seconds ??= (performance.now() - t0) / 1000;
  // Let the observer deliver the last entries.
  await new Promise(r => setTimeout(r, 200));
  observer.disconnect();
  // Threads the engine's WASM backend runs (older builds have no memory()).
  const svc = service as { memory?: () => Promise<{ kind: string; wasmThreads: number | null }[]> };
  const mem = typeof svc.memory === 'function' ? await svc.memory() : [];
  const wasmThreads = mem.find(m => m.kind === (worker ? 'worker' : 'main'))?.wasmThreads ?? null;
  lease.release();
  return {
    seconds,
    tiles,
    longestTaskMs: Math.max(0, ...durations),
    totalBlockingMs: durations.reduce((a, d) => a + Math.max(0, d - 50), 0),
    longTasks: durations.length,
    backend: lease.backend,
    reason: lease.backendReason,
    crossOriginIsolated: self.crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
    worker,
    wasmThreads,
    tasks,
    session: sessionResult,
    decodeCheck,
    after
  };
}

main().then(
  r => ((window as unknown as { __result: Result }).__result = r),
  err => ((window as unknown as { __result: Partial<Result> }).__result = { error: String(err?.stack ?? err) })
);
