/**
 * Time to first view of a multi-GB pyramidal TIFF served by a Jupyter server's
 * /files/ endpoint, against downloading the whole file from the same endpoint.
 *
 * Usage: tsx bench/open/bench-open.ts URL TOKEN FILE_BYTES
 * First view = openSlide (header) + the tiles covering a 1920x1080 screen at
 * fit-to-screen zoom, decoded to RGBA. Also times a 1:1 view at the centre.
 * Ends with one `key=value ...` line.
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
    if (done) break;
    bytes += value.length;
  }
  return { seconds: (performance.now() - t0) / 1000, bytes };
}

async function view(slide: SlideSource, level: number, vp: { x: number; y: number; width: number; height: number }) {
  const tiles = visibleTiles(slide.info, level, vp);
  await Promise.all(tiles.map(t => slide.readTile(t.level, t.col, t.row)));
  return tiles.length;
}

async function main(): Promise<void> {
  const [url, token, fileBytesArg] = process.argv.slice(2);
  const fileBytes = Number(fileBytesArg);
  const headers = { Authorization: `token ${token}` };

  // Warm the server (Python imports, file handles) so the first request is not measured as ours.
  await fetch(url, { headers: { ...headers, Range: 'bytes=0-0' } }).then(r => r.arrayBuffer());

  const t0 = performance.now();
  const slide = await openSlide(url, { headers, name: 'big.tif', decodeWorkers: WORKERS });
  const tOpen = performance.now();
  const headerBytes = slide.bytesRead;
  const scale = fitScale(slide.info, SCREEN_W, SCREEN_H);
  const level = chooseLevel(slide.info, scale);
  const fitTiles = await view(slide, level, { x: 0, y: 0, width: slide.info.width, height: slide.info.height });
  const tFirst = performance.now();
  const firstBytes = slide.bytesRead;

  // 1:1 at the centre: level 0 tiles under a 1920x1080 screen.
  const cx = slide.info.width / 2 - SCREEN_W / 2;
  const cy = slide.info.height / 2 - SCREEN_H / 2;
  const tz = performance.now();
  const zoomTiles = await view(slide, 0, { x: cx, y: cy, width: SCREEN_W, height: SCREEN_H });
  const zoomS = (performance.now() - tz) / 1000;
  const zoomBytes = slide.bytesRead - firstBytes;
  slide.dispose();
  await disposeDecoderPool();

  const full = await readAll(url, headers);
  if (full.bytes !== fileBytes) {
    throw new Error(`full read got ${full.bytes} bytes, file has ${fileBytes}`);
  }
  const openS = (tOpen - t0) / 1000;
  const firstS = (tFirst - t0) / 1000;
  const lv = slide.info.levels[level];
  console.log(`slide: ${slide.info.width} x ${slide.info.height}, ${slide.info.levels.length} levels, ${(fileBytes / 1e9).toFixed(2)} GB`);
  console.log(`open (header): ${openS.toFixed(3)} s, ${headerBytes} bytes`);
  console.log(`first view at fit (level ${level}, ${lv.width} x ${lv.height}, ${fitTiles} tiles): ${firstS.toFixed(3)} s, ${firstBytes} bytes`);
  console.log(`1:1 view at the centre (level 0, ${zoomTiles} tiles): ${zoomS.toFixed(3)} s, ${zoomBytes} bytes`);
  console.log(`whole file over the same endpoint: ${full.seconds.toFixed(2)} s, ${full.bytes} bytes`);
  console.log(`ratios: bytes ${(fileBytes / firstBytes).toFixed(0)}x fewer, time ${(full.seconds / firstS).toFixed(0)}x faster`);
  console.log(
    `first_view_s=${firstS.toFixed(3)} open_s=${openS.toFixed(3)} bytes_read=${firstBytes} header_bytes=${headerBytes} ` +
      `tiles=${fitTiles} zoom_view_s=${zoomS.toFixed(3)} zoom_bytes=${zoomBytes} file_bytes=${fileBytes} ` +
      `full_read_s=${full.seconds.toFixed(2)} ratio_bytes=${(fileBytes / firstBytes).toFixed(0)} ratio_time=${(full.seconds / firstS).toFixed(0)}`
  );
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
