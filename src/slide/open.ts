/** Entry point: open a slide at a URL (the Jupyter server's /files/<path>). */
import { slideError, toSlideError } from './errors';
import { HttpRangeReader } from './http';
import { ImageDecoder, openRasterSlide } from './raster';
import { SlideSource } from './types';

export interface OpenSlideOptions {
  /** File name or path, used with the magic bytes to pick the reader. */
  name?: string;
  /** Extra request headers (Authorization / X-XSRFToken) for the Jupyter /files/ endpoint. */
  headers?: Record<string, string>;
  /** fetch to use (defaults to globalThis.fetch). */
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** Byte cap of the decoded tile cache inside the source (0 = no cache). */
  cacheBytes?: number;
  /** Decoder for plain PNG/JPEG files (default: createImageBitmap + OffscreenCanvas). */
  decodeImage?: ImageDecoder;
  /**
   * Web workers decoding JPEG/Deflate/LZW tiles off the main thread (shared by
   * all open slides). Default: in a browser min(4, cores - 1), in Node 0.
   */
  decodeWorkers?: number;
}

export type SlideFileKind = 'tiff' | 'png' | 'jpeg' | 'unknown';

/** What the first bytes say the file is. */
export function sniffFormat(head: Uint8Array): SlideFileKind {
  const b = head;
  if (b.length >= 4) {
    const ii = b[0] === 0x49 && b[1] === 0x49 && (b[2] === 42 || b[2] === 43) && b[3] === 0;
    const mm = b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 42 || b[3] === 43);
    if (ii || mm) {
      return 'tiff';
    }
    if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
      return 'png';
    }
  }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    return 'jpeg';
  }
  return 'unknown';
}

const TIFF_NAME = /\.(svs|tiff?|ome\.tiff?|ndpi|scn|bif|qptiff)$/i;

/**
 * Open a slide: reads the header with HTTP Range requests, picks the reader
 * from the magic bytes (the name only words the error), and returns a source
 * that reads tiles on demand. Throws SlideError.
 */
export async function openSlide(url: string, options: OpenSlideOptions = {}): Promise<SlideSource> {
  try {
    const reader = new HttpRangeReader(url, { headers: options.headers, fetch: options.fetch, signal: options.signal });
    // Load the TIFF code while the header is on its way (most slides are TIFFs).
    const tiffModule = import('./tiff');
    tiffModule.catch(() => undefined);
    // One cached block: geotiff's own header read is served from it.
    const head = await reader.readCached(0, 1024, options.signal);
    if (head.length === 0) {
      throw slideError('truncated', 'The file is empty.');
    }
    const kind = sniffFormat(head);
    const name = options.name ?? url;
    switch (kind) {
      case 'tiff':
        return await (
          await tiffModule
        ).openTiffSlide(reader, {
          cacheBytes: options.cacheBytes,
          signal: options.signal,
          name,
          decodeWorkers: options.decodeWorkers
        });
      case 'png':
      case 'jpeg':
        return await openRasterSlide(reader, { format: kind, decode: options.decodeImage, signal: options.signal });
      default:
        if (TIFF_NAME.test(name.split('?')[0])) {
          throw slideError(
            'not-a-tiff',
            `${baseName(name)} is named like a slide but is not a TIFF (its first bytes are not a TIFF header).`
          );
        }
        throw slideError('unsupported-format', `${baseName(name)} is not a format this viewer reads (TIFF/SVS/OME-TIFF, PNG, JPEG).`);
    }
  } catch (e) {
    throw toSlideError(e);
  }
}

function baseName(path: string): string {
  const clean = decodeURIComponent(path.split('?')[0]);
  return clean.slice(clean.lastIndexOf('/') + 1) || clean;
}
