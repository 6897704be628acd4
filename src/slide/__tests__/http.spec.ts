/** Reading over a real local HTTP server: range-only reads, auth, changes, failures, aborts. */
jest.mock('quick-lru', () => require('./quickLruShim'));
import { openSlide } from '../open';
import { HttpRangeReader, parseContentRange } from '../http';
import { toSlideError } from '../errors';
import { SlideError } from '../types';
import { buildTiff, gradient } from './tiffBuilder';
import { memoryFetch, responder, serve } from './helpers';

// 512 x 512 RGB in 16 x 16 tiles: 768 KiB of pixels, 1024 tiles.
const BIG = buildTiff([{ width: 512, height: 512, tile: [16, 16], pixel: gradient }]);
const AUTH = { header: 'Authorization', value: 'token secret' };

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SlideError);
    return (e as SlideError).kind;
  }
  return 'no error';
}

describe('over HTTP', () => {
  it('opens with the token header and reads only the header and the requested tiles', async () => {
    const r = responder(BIG);
    const server = await serve(r, AUTH);
    try {
      const slide = await openSlide(server.url, { headers: { Authorization: AUTH.value } });
      expect(slide.info.width).toBe(512);
      const afterOpen = slide.bytesRead;
      expect(afterOpen).toBeLessThan(BIG.length / 10);
      const tile = await slide.readTile(0, 10, 20);
      expect(Array.from(tile.data.slice(0, 4))).toEqual([160, 64, 200, 255]);
      // one 768-byte tile, plus the offset-table block
      expect(slide.bytesRead - afterOpen).toBeLessThan(40 * 1024);
      expect(r.ranges.every(h => /^bytes=\d+-\d+$/.test(h))).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('reports a redirect to the login page as unauthorized', async () => {
    const server = await serve(responder(BIG), AUTH);
    try {
      expect(await kindOf(openSlide(server.url))).toBe('unauthorized');
    } finally {
      await server.close();
    }
  });

  it('maps HTTP statuses: 401/403 unauthorized, 404 not-found, 500 network', async () => {
    for (const [status, kind] of [
      [401, 'unauthorized'],
      [403, 'unauthorized'],
      [404, 'not-found'],
      [500, 'network']
    ] as const) {
      const r = responder(BIG);
      r.status = status;
      const server = await serve(r);
      try {
        expect(await kindOf(openSlide(server.url))).toBe(kind);
      } finally {
        await server.close();
      }
    }
  });

  it('reports a server that is gone as a network error', async () => {
    const server = await serve(responder(BIG));
    await server.close();
    expect(await kindOf(openSlide(server.url))).toBe('network');
  });

  it('detects a file changed (modified time or size) or deleted while open', async () => {
    const r = responder(BIG);
    const server = await serve(r);
    try {
      const slide = await openSlide(server.url);
      await slide.readTile(0, 0, 0);
      r.lastModified = 'Tue, 02 Jan 2024 00:00:00 GMT';
      expect(await kindOf(slide.readTile(0, 31, 31))).toBe('changed');
      const again = await openSlide(server.url);
      r.bytes = BIG.slice(0, BIG.length - 10);
      expect(await kindOf(again.readTile(0, 30, 30))).toBe('changed');
      r.bytes = BIG;
      const third = await openSlide(server.url);
      r.status = 404;
      expect(await kindOf(third.readTile(0, 29, 29))).toBe('not-found');
    } finally {
      await server.close();
    }
  });

  it('honours aborts at open and per read', async () => {
    const server = await serve(responder(BIG));
    try {
      const controller = new AbortController();
      controller.abort();
      expect(await kindOf(openSlide(server.url, { signal: controller.signal }))).toBe('aborted');
      const slide = await openSlide(server.url);
      const c2 = new AbortController();
      c2.abort();
      expect(await kindOf(slide.readTile(0, 3, 3, { signal: c2.signal }))).toBe('aborted');
      // a later read without the signal still works
      expect((await slide.readTile(0, 3, 3)).width).toBe(16);
    } finally {
      await server.close();
    }
  });

  it('accepts a small file from a server that ignores Range, refuses a big one', async () => {
    const r = responder(BIG);
    r.ignoreRange = true;
    const slide = await openSlide('http://x/files/a.tif', { fetch: memoryFetch(r) });
    expect((await slide.readTile(0, 1, 1)).width).toBe(16);
    expect(slide.bytesRead).toBe(BIG.length); // downloaded once, then served from memory
    const reader = new HttpRangeReader('http://x/files/a.tif', { fetch: memoryFetch(r), maxWholeFileBytes: 1000 });
    expect(await kindOf(reader.read(0, 100))).toBe('network');
  });

  it('reads byte ranges exactly and counts every byte', async () => {
    const r = responder(BIG);
    const reader = new HttpRangeReader('http://x/a', { fetch: memoryFetch(r), blockSize: 1024 });
    const a = await reader.read(100, 50);
    expect(Array.from(a)).toEqual(Array.from(BIG.slice(100, 150)));
    expect(reader.bytesRead).toBe(50);
    const b = await reader.readCached(1000, 100); // spans blocks 0 and 1
    expect(Array.from(b)).toEqual(Array.from(BIG.slice(1000, 1100)));
    expect(reader.bytesRead).toBe(50 + 2048);
    await reader.readCached(1500, 10); // cached
    expect(reader.bytesRead).toBe(50 + 2048);
    expect(reader.size).toBe(BIG.length);
    expect(await kindOf(reader.read(BIG.length - 5, 10))).toBe('truncated');
    const tail = await reader.readCached(BIG.length - 5, 100);
    expect(tail.length).toBe(5);
  });

  it('keeps the small-read block cache under its byte cap', async () => {
    const r = responder(BIG);
    const reader = new HttpRangeReader('http://x/a', { fetch: memoryFetch(r), blockSize: 1024, blockCacheBytes: 2048 });
    await reader.readCached(0, 10);
    await reader.readCached(1024, 10);
    await reader.readCached(2048, 10); // evicts block 0
    await reader.readCached(1030, 10); // block 1 still cached
    expect(r.ranges.length).toBe(3);
    await reader.readCached(5, 10); // block 0 again
    expect(r.ranges.length).toBe(4);
  });
});

describe('request coalescing', () => {
  it('merges reads issued together that are adjacent in the file, and slices the answer back', async () => {
    const r = responder(BIG);
    const reader = new HttpRangeReader('http://x/a', { fetch: memoryFetch(r) });
    const [a, b, c, far] = await Promise.all([
      reader.read(1000, 100),
      reader.read(1100, 50),
      reader.read(1200, 10), // 50-byte gap: still merged
      reader.read(200000, 10) // far away: its own request
    ]);
    expect(Array.from(a)).toEqual(Array.from(BIG.slice(1000, 1100)));
    expect(Array.from(b)).toEqual(Array.from(BIG.slice(1100, 1150)));
    expect(Array.from(c)).toEqual(Array.from(BIG.slice(1200, 1210)));
    expect(Array.from(far)).toEqual(Array.from(BIG.slice(200000, 200010)));
    expect(r.ranges).toEqual(['bytes=1000-1209', 'bytes=200000-200009']);
    expect(reader.bytesRead).toBe(210 + 10);
  });

  it('lets one reader abort without failing the others of the batch', async () => {
    const r = responder(BIG);
    const reader = new HttpRangeReader('http://x/a', { fetch: memoryFetch(r) });
    const controller = new AbortController();
    const aborted = reader.read(0, 100, controller.signal);
    const kept = reader.read(100, 100);
    controller.abort();
    expect(await kindOf(aborted)).toBe('aborted');
    expect(Array.from(await kept)).toEqual(Array.from(BIG.slice(100, 200)));
  });

  it('shares one tile read between callers; one caller aborting does not fail the others', async () => {
    const r = responder(BIG);
    const slide = await openSlide('http://x/files/a.tif', { fetch: memoryFetch(r) });
    const before = r.ranges.length;
    const c = new AbortController();
    const leaving = slide.readTile(0, 5, 5, { signal: c.signal });
    const staying = slide.readTile(0, 5, 5);
    c.abort();
    expect(await kindOf(leaving)).toBe('aborted');
    const tile = await staying;
    expect(Array.from(tile.data.slice(0, 4))).toEqual([80, 80, 200, 255]);
    const tileRequests = r.ranges.length - before;
    // when every caller gives up the read is dropped, and a later read starts afresh
    const c2 = new AbortController();
    const gone = slide.readTile(0, 6, 6, { signal: c2.signal });
    c2.abort();
    expect(await kindOf(gone)).toBe('aborted');
    expect(r.ranges.length - before).toBe(tileRequests);
    expect(Array.from((await slide.readTile(0, 6, 6)).data.slice(0, 4))).toEqual([96, 96, 200, 255]);
  });

  it('sends one request per read when coalescing is off', async () => {
    const r = responder(BIG);
    const reader = new HttpRangeReader('http://x/a', { fetch: memoryFetch(r), coalesce: false });
    await Promise.all([reader.read(0, 10), reader.read(10, 10)]);
    expect(r.ranges).toEqual(['bytes=0-9', 'bytes=10-19']);
  });
});

describe('error mapping', () => {
  it('parses Content-Range', () => {
    expect(parseContentRange('bytes 0-1023/4096')).toEqual({ start: 0, end: 1023, total: 4096 });
    expect(parseContentRange('bytes 5-9/*')).toEqual({ start: 5, end: 9, total: undefined });
    expect(parseContentRange(null)).toBeUndefined();
  });
  it('maps anything thrown to a readable SlideError', () => {
    const e = new SlideError('changed', 'x');
    expect(toSlideError(e)).toBe(e);
    expect(toSlideError(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' })).kind).toBe('aborted');
    expect(toSlideError(new TypeError('Invalid byte order value.')).kind).toBe('not-a-tiff');
    expect(toSlideError(new Error('Unknown compression method identifier: 50001')).message).toMatch(/50001/);
    expect(toSlideError(new RangeError('Offset is outside the bounds of the DataView')).kind).toBe('truncated');
    expect(toSlideError(new Error('unknown JPEG marker 4f2')).kind).toBe('decode');
    expect(toSlideError(new TypeError('fetch failed')).kind).toBe('network');
    const odd = toSlideError('weird');
    expect(odd).toBeInstanceOf(SlideError);
    expect(odd.message).toMatch(/weird/);
  });
});
