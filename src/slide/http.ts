/**
 * Byte-range reading over HTTP (the Jupyter server's /files/ endpoint) with
 * exact byte accounting, change detection and error mapping to SlideError.
 */
import { LruCache } from './cache';
import { slideError } from './errors';
import { SlideError } from './types';

export interface RangeReaderOptions {
  headers?: Record<string, string>;
  fetch?: typeof fetch;
  /** Aborts every request of this reader (e.g. the viewer closed). */
  signal?: AbortSignal;
  /** Block size of the small-read cache used for headers and offset arrays. */
  blockSize?: number;
  /** Byte cap of that block cache (default 16 MiB). */
  blockCacheBytes?: number;
  /** Largest file accepted when a server ignores Range and sends it all (bytes). */
  maxWholeFileBytes?: number;
  /**
   * Merge reads issued in the same event-loop turn that are adjacent in the
   * file (gap <= 4 KiB) into one request (default true): the tiles of a view
   * row are usually contiguous, and each request costs a server round trip.
   */
  coalesce?: boolean;
}

interface PendingRead {
  offset: number;
  length: number;
  signal?: AbortSignal;
  resolve: (data: Uint8Array) => void;
  reject: (e: unknown) => void;
}

const COALESCE_MAX_GAP = 4096;
const COALESCE_MAX_BYTES = 8 * 1024 * 1024;

/** What identifies one version of the file on the server. */
interface FileVersion {
  size?: number;
  lastModified?: string;
  etag?: string;
}

const DEFAULT_BLOCK_SIZE = 16 * 1024;
const DEFAULT_MAX_WHOLE_FILE = 64 * 1024 * 1024;
const DEFAULT_BLOCK_CACHE_BYTES = 16 * 1024 * 1024;

/** One signal that fires when any of `signals` fires (none given: undefined). */
function anySignal(signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => !!s);
  return present.length <= 1 ? present[0] : AbortSignal.any(present);
}

/** `p`, or an 'aborted' rejection as soon as `signal` fires. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) {
    return p;
  }
  if (signal.aborted) {
    return Promise.reject(abortedError());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      v => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      e => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      }
    );
  });
}

function abortedError(): SlideError {
  return slideError('aborted', 'Reading the slide was cancelled.');
}

/** Parse 'bytes 0-1023/4096' (total may be '*'). */
export function parseContentRange(value: string | null): { start: number; end: number; total?: number } | undefined {
  if (!value) {
    return undefined;
  }
  const m = /bytes\s+(\d+)-(\d+)\/(\d+|\*)/i.exec(value);
  if (!m) {
    return undefined;
  }
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

/** Reads byte ranges of one URL; every byte received is counted in `bytesRead`. */
export class HttpRangeReader {
  /** Response body bytes received so far. */
  bytesRead = 0;
  /** Number of HTTP requests sent. */
  requests = 0;
  private version: FileVersion | undefined;
  private whole: Uint8Array | undefined;
  /** Small-read blocks (headers, offset tables, tiny tiles), bounded: a long session touches many. */
  private readonly blocks: LruCache<Promise<Uint8Array>>;
  private readonly blockSize: number;
  private readonly fetchFn: typeof fetch;
  private pending: PendingRead[] = [];
  private flushScheduled = false;

  constructor(
    readonly url: string,
    private readonly options: RangeReaderOptions = {}
  ) {
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.blocks = new LruCache<Promise<Uint8Array>>(options.blockCacheBytes ?? DEFAULT_BLOCK_CACHE_BYTES);
    const f = options.fetch ?? globalThis.fetch;
    if (!f) {
      throw slideError('network', 'No fetch implementation is available to read the slide.');
    }
    this.fetchFn = f.bind(globalThis);
  }

  /** Bytes held by the small-read block cache (and a whole file a server sent without Range). */
  get cachedBytes(): number {
    return this.blocks.bytes + (this.whole?.byteLength ?? 0);
  }

  /** Total file size, once a response has told it. */
  get size(): number | undefined {
    return this.whole ? this.whole.length : this.version?.size;
  }

  /**
   * Read [offset, offset+length) exactly. Reads that run past the end of the
   * file return the bytes that exist when `allowShort`, else throw 'truncated'.
   */
  async read(offset: number, length: number, signal?: AbortSignal, allowShort = false): Promise<Uint8Array> {
    if (length <= 0) {
      return new Uint8Array(0);
    }
    const size = this.size;
    if (size !== undefined) {
      if (offset >= size || offset + length > size) {
        if (!allowShort || offset >= size) {
          throw this.truncated(offset, length, size);
        }
        length = size - offset;
      }
    }
    if (this.whole) {
      return this.whole.slice(offset, offset + length);
    }
    const data = await this.batched(offset, length, signal);
    if (this.whole) {
      return (this.whole as Uint8Array).slice(offset, offset + length);
    }
    if (data.length < length && !allowShort) {
      throw this.truncated(offset, length, this.size ?? offset + data.length);
    }
    return data;
  }

  /**
   * Read through a cache of aligned blocks: for the many small reads of TIFF
   * headers and offset arrays. Short at the end of the file.
   */
  async readCached(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    const bs = this.blockSize;
    const known = this.size;
    if (known !== undefined && offset >= known && length > 0) {
      throw this.truncated(offset, length, known);
    }
    const first = Math.floor(offset / bs);
    const last = Math.floor((offset + length - 1) / bs);
    const parts: Uint8Array[] = [];
    for (let b = first; b <= last; b++) {
      const size = this.size;
      if (size !== undefined && b * bs >= size) {
        break; // the rest lies beyond the end of the file
      }
      parts.push(await this.block(b, signal));
    }
    const out = new Uint8Array(length);
    let filled = 0;
    for (let k = 0; k < parts.length; k++) {
      const blockStart = (first + k) * bs;
      const from = Math.max(offset, blockStart) - blockStart;
      const to = Math.min(offset + length, blockStart + parts[k].length) - blockStart;
      if (to <= from) {
        break;
      }
      out.set(parts[k].subarray(from, to), filled);
      filled += to - from;
      if (parts[k].length < bs) {
        break; // end of file
      }
    }
    return filled === length ? out : out.slice(0, filled);
  }

  private block(index: number, signal?: AbortSignal): Promise<Uint8Array> {
    const key = String(index);
    let p = this.blocks.get(key);
    if (!p) {
      const start = index * this.blockSize;
      // Blocks are shared by all callers: fetched under the reader's signal only,
      // each caller stops waiting on its own signal.
      p = this.read(start, this.blockSize, undefined, true);
      this.blocks.set(key, p, this.blockSize);
      // A failed (e.g. aborted) block must be retried next time, not cached.
      const mine = p;
      p.catch(() => {
        if (this.blocks.get(key) === mine) {
          this.blocks.delete(key);
        }
      });
    }
    return raceAbort(p, signal);
  }

  /** Forget cached header blocks. */
  clear(): void {
    this.blocks.clear();
  }

  private truncated(offset: number, length: number, size: number): SlideError {
    return slideError(
      'truncated',
      `The file is truncated or corrupt: it has ${size} bytes but its structure points to bytes ${offset}-${offset + length - 1}.`
    );
  }

  /** Queue a read for this turn's batch (see `coalesce`). */
  private batched(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.options.coalesce === false) {
      return this.request(offset, length, signal);
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      if (signal?.aborted || this.options.signal?.aborted) {
        reject(abortedError());
        return;
      }
      this.pending.push({ offset, length, signal, resolve, reject });
      // The merged request goes on for the other readers; this one stops waiting.
      signal?.addEventListener('abort', () => reject(abortedError()), { once: true });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setTimeout(() => this.flush(), 0);
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const jobs = this.pending.filter(j => !j.signal?.aborted).sort((a, b) => a.offset - b.offset);
    this.pending = [];
    let group: PendingRead[] = [];
    let start = 0;
    let end = 0;
    const send = (): void => {
      if (group.length === 0) {
        return;
      }
      const members = group;
      const from = start;
      // A lone read keeps its own signal; a merged one runs under the reader's.
      this.request(from, end - from, members.length === 1 ? members[0].signal : undefined).then(
        data => {
          for (const m of members) {
            const at = m.offset - from;
            m.resolve(data.subarray(Math.min(at, data.length), Math.min(at + m.length, data.length)));
          }
        },
        e => members.forEach(m => m.reject(e))
      );
    };
    for (const job of jobs) {
      const jobEnd = job.offset + job.length;
      if (group.length > 0 && job.offset <= end + COALESCE_MAX_GAP && Math.max(end, jobEnd) - start <= COALESCE_MAX_BYTES) {
        group.push(job);
        end = Math.max(end, jobEnd);
      } else {
        send();
        group = [job];
        start = job.offset;
        end = jobEnd;
      }
    }
    send();
  }

  private async request(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    const combined = anySignal([this.options.signal, signal]);
    if (combined?.aborted) {
      throw abortedError();
    }
    const headers: Record<string, string> = { ...(this.options.headers ?? {}), Range: `bytes=${offset}-${offset + length - 1}` };
    let response: Response;
    this.requests++;
    try {
      response = await this.fetchFn(this.url, {
        headers,
        signal: combined,
        // A redirect here is the login page: report it instead of following it.
        redirect: 'manual',
        cache: 'no-store',
        credentials: 'same-origin'
      });
    } catch (e) {
      if (combined?.aborted || (e as { name?: string })?.name === 'AbortError') {
        throw abortedError();
      }
      throw slideError('network', `The request for ${this.url} failed: ${(e as Error)?.message ?? e}.`, e);
    }
    this.checkStatus(response, offset);
    const contentRange = parseContentRange(response.headers.get('Content-Range'));
    const version: FileVersion = {
      size: contentRange?.total ?? (response.status === 200 ? numberHeader(response, 'Content-Length') : undefined),
      lastModified: response.headers.get('Last-Modified') ?? undefined,
      etag: response.headers.get('ETag') ?? undefined
    };
    this.checkVersion(version);
    if (response.status === 200) {
      // The server ignored Range and is sending the whole file.
      const total = version.size;
      if (total === undefined || total > (this.options.maxWholeFileBytes ?? DEFAULT_MAX_WHOLE_FILE)) {
        await cancelBody(response);
        throw slideError(
          'network',
          `The server does not support byte-range requests for ${this.url}; refusing to download the whole file${total ? ` (${total} bytes)` : ''}.`
        );
      }
      const all = await this.body(response, combined);
      this.whole = all;
      return all.slice(offset, offset + length);
    }
    const data = await this.body(response, combined);
    if (contentRange && contentRange.start !== offset) {
      throw slideError('network', `The server answered bytes ${contentRange.start}- for a request of bytes ${offset}-.`);
    }
    return data;
  }

  private async body(response: Response, signal: AbortSignal | undefined): Promise<Uint8Array> {
    try {
      const buf = new Uint8Array(await response.arrayBuffer());
      this.bytesRead += buf.length;
      return buf;
    } catch (e) {
      if (signal?.aborted || (e as { name?: string })?.name === 'AbortError') {
        throw abortedError();
      }
      throw slideError('network', `Reading the response for ${this.url} failed: ${(e as Error)?.message ?? e}.`, e);
    }
  }

  private checkStatus(response: Response, offset: number): void {
    const status = response.status;
    if (status === 206 || status === 200) {
      if (response.redirected && /\/login/.test(response.url)) {
        throw slideError('unauthorized', 'The Jupyter server asked to log in again; reload the page to sign in.');
      }
      return;
    }
    if (response.type === 'opaqueredirect' || (status >= 300 && status < 400)) {
      throw slideError('unauthorized', 'The Jupyter server redirected to its login page; you are not signed in (or the token expired).');
    }
    if (status === 401 || status === 403) {
      throw slideError('unauthorized', `Access to the slide was refused (HTTP ${status}); check that you are signed in.`);
    }
    if (status === 404 || status === 410) {
      throw slideError('not-found', `The slide file was not found (HTTP ${status}); it may have been moved or deleted.`);
    }
    if (status === 416 && offset === 0) {
      throw slideError('truncated', 'The file is empty.');
    }
    if (status === 416) {
      throw slideError('truncated', 'The file is shorter than its structure says (HTTP 416): it is truncated or was replaced.');
    }
    throw slideError(
      'network',
      `The server answered HTTP ${status} ${response.statusText ?? ''} while reading the slide.`.replace(/\s+\./, '.')
    );
  }

  private checkVersion(v: FileVersion): void {
    if (!this.version) {
      this.version = v;
      return;
    }
    const old = this.version;
    const changed =
      (old.size !== undefined && v.size !== undefined && old.size !== v.size) ||
      (old.lastModified !== undefined && v.lastModified !== undefined && old.lastModified !== v.lastModified) ||
      (old.etag !== undefined && v.etag !== undefined && old.etag !== v.etag);
    if (changed) {
      throw slideError('changed', 'The slide file changed on the server while it was open; reopen it to see the new version.');
    }
    if (old.size === undefined) {
      old.size = v.size;
    }
  }
}

function numberHeader(response: Response, name: string): number | undefined {
  const v = response.headers.get(name);
  const n = v === null ? NaN : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

async function cancelBody(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // already closed
  }
}

/**
 * The byte source geotiff.js reads from (duck-typed BaseSource): small reads
 * (headers, IFDs, offset arrays) go through the block cache, large ones
 * (tile data) are fetched exactly.
 */
export class GeoTiffRangeSource {
  constructor(
    readonly reader: HttpRangeReader,
    private readonly smallReadLimit = 4096
  ) {}

  async fetch(slices: { offset: number; length: number }[], signal?: AbortSignal): Promise<ArrayBuffer[]> {
    return Promise.all(
      slices.map(async ({ offset, length }) => {
        const bytes =
          length <= this.smallReadLimit
            ? await this.reader.readCached(offset, length, signal)
            : await this.reader.read(offset, length, signal);
        return toArrayBuffer(bytes);
      })
    );
  }

  get fileSize(): number | null {
    return this.reader.size ?? null;
  }

  async close(): Promise<void> {
    this.reader.clear();
  }
}

export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  return bytes.slice().buffer as ArrayBuffer;
}
