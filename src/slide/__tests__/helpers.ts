/**
 * Node-only helpers for the slide tests and the open benchmark: a fetch over
 * files that honours HTTP Range like the Jupyter server, a real local HTTP
 * server with Range support, and locating the shared data.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { AddressInfo } from 'net';
import { PNG } from 'pngjs';
import type { RegionPixels } from '../types';

/** The shared data folder (UGA_DATA or ../shared/data from the repo root), or undefined. */
export function sharedDataDir(): string | undefined {
  const candidates = [process.env.UGA_DATA, path.resolve(__dirname, '../../../../shared/data')].filter((p): p is string => !!p);
  return candidates.find(p => fs.existsSync(path.join(p, 'slides')));
}

export interface FileResponder {
  /** Bytes of the file as served now (tests swap it to simulate a change). */
  bytes: Uint8Array;
  lastModified: string;
  /** Override the status for the next requests (e.g. 401, 302, 404, 500). */
  status?: number;
  /** Ignore Range and send the whole file with 200. */
  ignoreRange?: boolean;
  /** Requests seen (Range header values). */
  ranges: string[];
}

export function responder(bytes: Uint8Array, lastModified = 'Mon, 01 Jan 2024 00:00:00 GMT'): FileResponder {
  return { bytes, lastModified, ranges: [] };
}

function answer(r: FileResponder, rangeHeader: string | null): { status: number; headers: Record<string, string>; body: Uint8Array } {
  r.ranges.push(rangeHeader ?? '');
  if (r.status !== undefined) {
    const headers: Record<string, string> = r.status >= 300 && r.status < 400 ? { Location: '/login?next=/files/x' } : {};
    return { status: r.status, headers, body: new TextEncoder().encode('nope') };
  }
  const size = r.bytes.length;
  const m = rangeHeader ? /bytes=(\d+)-(\d*)/.exec(rangeHeader) : null;
  const common = { 'Last-Modified': r.lastModified, 'Accept-Ranges': 'bytes' };
  if (!m || r.ignoreRange) {
    return { status: 200, headers: { ...common, 'Content-Length': String(size) }, body: r.bytes };
  }
  const start = Number(m[1]);
  if (start >= size) {
    return { status: 416, headers: { 'Content-Range': `bytes */${size}` }, body: new Uint8Array(0) };
  }
  const end = Math.min(size - 1, m[2] ? Number(m[2]) : size - 1);
  return {
    status: 206,
    headers: { ...common, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': String(end - start + 1) },
    body: r.bytes.subarray(start, end + 1)
  };
}

/** A fetch implementation answering from memory like a Range-capable file server. */
export function memoryFetch(r: FileResponder): typeof fetch {
  return (async (_url: string | URL | Request, init?: RequestInit) => {
    if (init?.signal?.aborted) {
      throw Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
    }
    const headers = new Headers(init?.headers);
    const a = answer(r, headers.get('Range'));
    return new Response(
      a.status === 416 || a.status >= 300 ? (a.status === 416 ? null : (a.body as BodyInit)) : (a.body.slice() as BodyInit),
      {
        status: a.status,
        headers: a.headers
      }
    );
  }) as typeof fetch;
}

/** fetch over a file on disk (Range honoured; Last-Modified from mtime). */
export function fileFetch(file: string): { fetch: typeof fetch; responder: FileResponder } {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const r = responder(bytes, fs.statSync(file).mtime.toUTCString());
  return { fetch: memoryFetch(r), responder: r };
}

/** A real HTTP server on localhost with Range support; requires header `auth` when given. */
export async function serve(
  r: FileResponder,
  auth?: { header: string; value: string }
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (auth && req.headers[auth.header.toLowerCase()] !== auth.value) {
      res.writeHead(302, { Location: '/login' });
      res.end();
      return;
    }
    const a = answer(r, (req.headers['range'] as string | undefined) ?? null);
    res.writeHead(a.status, a.headers);
    res.end(Buffer.from(a.body.buffer, a.body.byteOffset, a.body.byteLength));
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/files/slide`,
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      })
  };
}

/** Decode PNG bytes with pngjs (the injectable decoder for Node). */
export async function pngjsDecoder(bytes: Uint8Array): Promise<RegionPixels> {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return { width: png.width, height: png.height, data: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length) };
}

/** Mean RGB of a region (skipping transparent pixels). */
export function meanRgb(p: RegionPixels): [number, number, number] {
  let r = 0,
    g = 0,
    b = 0,
    n = 0;
  for (let i = 0; i < p.data.length; i += 4) {
    if (p.data[i + 3] === 0) {
      continue;
    }
    r += p.data[i];
    g += p.data[i + 1];
    b += p.data[i + 2];
    n++;
  }
  return n ? [r / n, g / n, b / n] : [NaN, NaN, NaN];
}
