/**
 * Long session on the benchmark page (`bench-engine-browser.sh --session`):
 * N analyses of viewport-sized regions, interleaved with M simulated pans
 * that read the visible tiles the way the viewer does (slide reader -> RGBA
 * -> ImageBitmap in a byte-bounded LruCache that closes what it evicts).
 * Records, after a warm-up and at the end (after a GC of the page): the
 * worker's tf.memory().numTensors / numBytes and WASM heap, the page's
 * usedJSHeapSize (--enable-precise-memory-info), the slide source's cache
 * bytes and the viewer-like tile cache's bytes. None of them may grow.
 */
import { analyzeRegion, RegionResult } from '../../../src/engine/region';
import type { EngineService } from '../../../src/engine/service';
import type { RuntimeMemory } from '../../../src/engine/runtime';
import { LruCache } from '../../../src/slide/cache';
import { chooseLevel, visibleTiles } from '../../../src/slide/pyramid';
import type { SlideSource } from '../../../src/slide/types';
import type { IUncertaintyEngine } from '../../../src/tokens';

export interface SessionSnapshot {
  label: string;
  analyses: number;
  pans: number;
  workerTensors: number | null;
  workerTensorBytes: number | null;
  workerWasmHeapBytes: number | null;
  pageTensors: number | null;
  pageHeapBytes: number | null;
  sourceCacheBytes: number | null;
  viewerCacheBytes: number;
  viewerCacheTiles: number;
  openBitmaps: number;
}

export interface SessionResult {
  snapshots: SessionSnapshot[];
  analysisSeconds: number[];
  panMs: number[];
  tilesRead: number;
}

export interface SessionOptions {
  analyses: number;
  pans: number;
  viewerCacheBytes: number;
  /** Side of the analysed region (level-0 px) and of the viewport. */
  regionSide: number;
  viewport: { width: number; height: number };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

async function settle(): Promise<void> {
  // Two GCs of the page (needs --js-flags=--expose-gc) with a turn of the event loop between.
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 2; i++) {
    gc?.();
    await new Promise(r => setTimeout(r, 50));
  }
}

export async function runSession(
  service: EngineService,
  engine: IUncertaintyEngine,
  source: SlideSource,
  options: SessionOptions
): Promise<SessionResult> {
  const info = source.info;
  let openBitmaps = 0;
  const viewerCache = new LruCache<ImageBitmap>(options.viewerCacheBytes, image => {
    image.close();
    openBitmaps--;
  });
  const random = rng(12345);
  let analyses = 0;
  let pans = 0;
  let tilesRead = 0;
  const panMs: number[] = [];
  const analysisSeconds: number[] = [];
  // What the panel keeps: the last result only.
  let last: RegionResult | null = null;
  const view = { x: 0, y: 0, scale: 1 };

  const pan = async (): Promise<void> => {
    // A random walk of the viewport, now and then zoomed out (coarser levels, where the slide has them).
    view.x = Math.min(Math.max(0, view.x + (random() - 0.5) * options.viewport.width), Math.max(0, info.width - options.viewport.width));
    view.y = Math.min(Math.max(0, view.y + (random() - 0.5) * options.viewport.height), Math.max(0, info.height - options.viewport.height));
    view.scale = random() < 0.2 ? 0.25 + random() * 0.5 : 1;
    const vp = { x: view.x, y: view.y, width: options.viewport.width / view.scale, height: options.viewport.height / view.scale };
    const level = chooseLevel(info, view.scale);
    const t0 = performance.now();
    await Promise.all(
      visibleTiles(info, level, vp).map(async t => {
        const key = `${t.level}/${t.col}/${t.row}`;
        if (viewerCache.has(key)) {
          viewerCache.get(key);
          return;
        }
        const px = await source.readTile(t.level, t.col, t.row);
        tilesRead++;
        const bitmap = await createImageBitmap(new ImageData(new Uint8ClampedArray(px.data), px.width, px.height));
        openBitmaps++;
        viewerCache.set(key, bitmap, px.width * px.height * 4);
      })
    );
    panMs.push(performance.now() - t0);
    pans++;
  };

  const analyse = async (): Promise<void> => {
    const side = Math.min(options.regionSide, info.width, info.height);
    const region = {
      x: Math.floor(random() * Math.max(1, info.width - side)),
      y: Math.floor(random() * Math.max(1, info.height - side)),
      width: side,
      height: side
    };
    const t0 = performance.now();
    last = await analyzeRegion(source, region, engine, { onTile: () => undefined });
    analysisSeconds.push((performance.now() - t0) / 1000);
    analyses++;
  };

  const snapshots: SessionSnapshot[] = [];
  const snapshot = async (label: string): Promise<void> => {
    await settle();
    const mem: RuntimeMemory[] = typeof service.memory === 'function' ? await service.memory() : [];
    const w = mem.find(m => m.kind === 'worker');
    const p = mem.find(m => m.kind === 'main');
    const heap = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize;
    snapshots.push({
      label,
      analyses,
      pans,
      workerTensors: w?.numTensors ?? null,
      workerTensorBytes: w?.numBytes ?? null,
      workerWasmHeapBytes: w?.wasmHeapBytes ?? null,
      pageTensors: p?.numTensors ?? null,
      pageHeapBytes: heap ?? null,
      sourceCacheBytes: source.cachedBytes ?? null,
      viewerCacheBytes: viewerCache.bytes,
      viewerCacheTiles: viewerCache.size,
      openBitmaps
    });
  };

  const pansPer = options.analyses > 0 ? options.pans / options.analyses : options.pans;
  let pansDue = 0;
  const step = async (): Promise<void> => {
    pansDue += pansPer;
    while (pansDue >= 1) {
      await pan();
      pansDue--;
    }
    await analyse();
  };
  await snapshot('start');
  // Warm-up: one step (kernels compiled, caches filled to their budgets, pools started).
  await step();
  await snapshot('after warm-up');
  for (let i = 1; i < options.analyses; i++) {
    await step();
    if (i === Math.floor(options.analyses / 2)) {
      await snapshot('half-way');
    }
  }
  while (pans < options.pans) {
    await pan();
  }
  void last;
  last = null;
  await snapshot('end');
  return { snapshots, analysisSeconds, panMs, tilesRead };
}
