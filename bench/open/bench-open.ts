/**
 * Time to first view of a multi-GB pyramidal TIFF served by a Jupyter server's
 * /files/ endpoint, against downloading the whole file from the same endpoint.
 *
 * Usage: tsx bench/open/bench-open.ts URL TOKEN FILE_BYTES
 * First view = openSlide (header) + the tiles covering a 1920x1080 screen at
 * fit-to-screen zoom, decoded to RGBA; each trial is a fresh open (new reader,
 * empty caches). Trials run with tiles decoded on the main thread and in
 * decoder workers. Also times a 1:1 view at the centre. Ends with one
 * `key=value ...` line (first_view_s = median over the worker trials).
 */
import { openSlide } from '../../src/slide/open';
import { disposeDecoderPool } from '../../src/slide/tiff';
import { chooseLevel, fitScale, visibleTiles } from '../../src/slide/pyramid';
import type { SlideSource } from '../../src/slide/types';

const SCREEN_W = 1920;
const SCREEN_H = 1080;
// Decoder workers (the browser default is min(4, cores - 1)); BENCH_OPEN_WORKERS overrides.
const WORKERS = Number(process.env.BENCH_OPEN_WORKERS ?? 2);

async function readAll(url: string, headers: Record<string, string>): Promise<{ seconds: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers });
  if (!res.ok || !res.body) {
    throw new Error(`full read failed: HTTP ${res.status}`);
  }
  let bytes = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    bytes += value.length;
  }
  return { seconds: (performance.now() - t0) / 1000, bytes };
}

async function view(slide: SlideSource, level: number, vp: { x: number; y: number; width: number; height: number }) {
  const tiles = visibleTiles(slide.info, level, vp);
  await Promise.all(tiles.map(t => slide.readTile(t.level, t.col, t.row)));
  return tiles.length;
}

interface Trial {
  openS: number;
  firstS: number;
  headerBytes: number;
  firstBytes: number;
  requests: number;
  tiles: number;
  level: number;
  zoomS: number;
  zoomBytes: number;
}

/** One fresh open (new reader, empty caches): header, fit view, then a 1:1 view at the centre. */
async function trial(url: string, headers: Record<string, string>, workers: number): Promise<{ t: Trial; slide: SlideSource }> {
  const t0 = performance.now();
  const slide = await openSlide(url, { headers, name: 'big.tif', decodeWorkers: workers });
  const tOpen = performance.now();
  const headerBytes = slide.bytesRead;
  const level = chooseLevel(slide.info, fitScale(slide.info, SCREEN_W, SCREEN_H));
  const tiles = await view(slide, level, { x: 0, y: 0, width: slide.info.width, height: slide.info.height });
  const tFirst = performance.now();
  const firstBytes = slide.bytesRead;
  const requests = (slide as unknown as { requestCount: number }).requestCount;
  const cx = slide.info.width / 2 - SCREEN_W / 2;
  const cy = slide.info.height / 2 - SCREEN_H / 2;
  const tz = performance.now();
  await view(slide, 0, { x: cx, y: cy, width: SCREEN_W, height: SCREEN_H });
  const zoomS = (performance.now() - tz) / 1000;
  const t: Trial = {
    openS: (tOpen - t0) / 1000,
    firstS: (tFirst - t0) / 1000,
    headerBytes,
    firstBytes,
    requests,
    tiles,
    level,
    zoomS,
    zoomBytes: slide.bytesRead - firstBytes
  };
  slide.dispose();
  return { t, slide };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const [url, token, fileBytesArg] = process.argv.slice(2);
  const fileBytes = Number(fileBytesArg);
  const headers = { Authorization: `token ${token}` };
  const trials = Number(process.env.BENCH_OPEN_TRIALS ?? 3);

  // Module code is loaded before timing, as a browser has the extension's chunks cached;
  // the server gets one request first so its Python-side warm-up is not counted.
  await import('../../src/slide/tiff');
  await import('geotiff');
  await fetch(url, { headers: { ...headers, Range: 'bytes=0-0' } }).then(r => r.arrayBuffer());

  const results: Record<string, Trial[]> = {};
  let info: SlideSource['info'] | undefined;
  for (const workers of [0, WORKERS]) {
    const runs: Trial[] = [];
    for (let i = 0; i < trials; i++) {
      const { t, slide } = await trial(url, headers, workers);
      info = slide.info;
      runs.push(t);
    }
    results[`workers=${workers}`] = runs;
    await disposeDecoderPool();
  }

  const full = await readAll(url, headers);
  if (full.bytes !== fileBytes) {
    throw new Error(`full read got ${full.bytes} bytes, file has ${fileBytes}`);
  }
  const main = results[`workers=${WORKERS}`];
  const firstS = median(main.map(t => t.firstS));
  const t0 = main[0];
  const lv = info!.levels[t0.level];
  console.log(
    `slide: ${info!.width} x ${info!.height}, ${info!.levels.length} levels, ${(fileBytes / 1e9).toFixed(2)} GB; screen ${SCREEN_W}x${SCREEN_H}`
  );
  console.log(
    `fit view: level ${t0.level} (${lv.width} x ${lv.height}), ${t0.tiles} tiles; header ${t0.headerBytes} bytes; first view ${t0.firstBytes} bytes in ${t0.requests} requests`
  );
  for (const [k, runs] of Object.entries(results)) {
    const fmt = (xs: number[]) => xs.map(x => x.toFixed(3)).join(' / ');
    console.log(
      `${k}: open ${fmt(runs.map(t => t.openS))} s; first view ${fmt(runs.map(t => t.firstS))} s; 1:1 centre view ${fmt(runs.map(t => t.zoomS))} s (${runs[0].zoomBytes} bytes)`
    );
  }
  console.log(`whole file over the same endpoint: ${full.seconds.toFixed(2)} s, ${full.bytes} bytes`);
  console.log(
    `ratios: ${(fileBytes / t0.firstBytes).toFixed(0)}x fewer bytes, ${(full.seconds / firstS).toFixed(0)}x less time than reading the file`
  );
  console.log(
    `first_view_s=${firstS.toFixed(3)} first_view_cold_s=${t0.firstS.toFixed(3)} open_s=${median(main.map(t => t.openS)).toFixed(3)} ` +
      `bytes_read=${t0.firstBytes} header_bytes=${t0.headerBytes} requests=${t0.requests} tiles=${t0.tiles} ` +
      `first_view_main_thread_s=${median(results['workers=0'].map(t => t.firstS)).toFixed(3)} zoom_view_s=${median(main.map(t => t.zoomS)).toFixed(3)} ` +
      `file_bytes=${fileBytes} full_read_s=${full.seconds.toFixed(2)} ratio_bytes=${(fileBytes / t0.firstBytes).toFixed(0)} ratio_time=${(full.seconds / firstS).toFixed(0)}`
  );
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
