/**
 * Pyramidal TIFF slides (Aperio SVS with JPEG or JPEG 2000 tiles, OME-TIFF with
 * SubIFD or page pyramids, generic tiled TIFF) read through geotiff.js over
 * HTTP byte ranges: opening reads only the IFDs, reading reads only the tiles.
 */
import type * as GeoTiffNs from 'geotiff';
import type { GeoTIFF, GeoTIFFImage, ImageFileDirectory } from 'geotiff';
import { LruCache } from './cache';
import {
  blitSamplesToRgba,
  inspectJpeg,
  jpegIsYCbCr,
  JpegStreamInfo,
  PHOTOMETRIC_BLACK_IS_ZERO,
  PHOTOMETRIC_RGB,
  PHOTOMETRIC_WHITE_IS_ZERO,
  PHOTOMETRIC_YCBCR,
  SampleLayout,
  transparentWhite
} from './colour';
import { slideError, toSlideError } from './errors';
import { GeoTiffRangeSource, HttpRangeReader } from './http';
import { codestreamHasMct, jpeg2000Config } from './jpeg2000';
import { registerJpeg2000 } from './j2kDecoder';
import { parseAperioDescription, parseOmeXml, rationalToNumber, resolutionToMicrons, sameAspect } from './metadata';
import { readRegionFromTiles } from './region';
import { LevelRect, ReadOptions, RegionPixels, SlideInfo, SlideLevel, SlideSource } from './types';

/** TIFF compressions we can decode, with names for messages and properties. */
export const COMPRESSION_NAMES: Record<number, string> = {
  1: 'none',
  5: 'LZW',
  7: 'JPEG',
  8: 'Deflate',
  32946: 'Deflate',
  32773: 'PackBits',
  33003: 'JPEG 2000 (Aperio YCbCr)',
  33005: 'JPEG 2000 (Aperio RGB)'
};

const UNSUPPORTED_COMPRESSION_NAMES: Record<number, string> = {
  6: 'old-style JPEG',
  34712: 'JPEG 2000 (Leica)',
  33004: 'JPEG 2000',
  34892: 'lossy JPEG (DNG)',
  50000: 'Zstandard',
  50001: 'WebP',
  50002: 'JPEG XL'
};

/** Dimensions above this are not a slide but a corrupt or hostile header. */
export const MAX_DIMENSION = 10_000_000;
export const MAX_PIXELS = 1e12;
const MAX_TILE_SIDE = 65536;
/** IFDs examined when looking for pyramid levels. */
const MAX_PAGES = 64;
/** Stripped levels are shown in virtual tiles of whole strips, about this tall. */
const STRIP_TILE_TARGET_HEIGHT = 512;

const TAG = {
  SubIFDs: 330
};

interface LevelImpl {
  level: SlideLevel;
  image: GeoTIFFImage;
  compression: number;
  photometric: number;
  /** Rows of one strip (stripped levels) — a tile is `stripsPerTile` strips. */
  rowsPerStrip: number;
  stripsPerTile: number;
  layout: SampleLayout;
  planar: number;
  decoder?: Promise<{ decode(buffer: ArrayBufferLike): Promise<ArrayBufferLike> }>;
  jpegTables?: JpegStreamInfo;
  /** JPEG colour decided from the first tile of the level (same encoder for all). */
  jpegYcbcr?: boolean;
}

let sharedPool: { size: number; pool: GeoTiffNs.Pool } | undefined;

function inNode(): boolean {
  return !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
}

/**
 * In a browser the pool runs our decoder worker (decode.worker.ts: geotiff's
 * decoders and JPEG 2000), so no tile is decoded on the page's thread; in
 * Node, geotiff's stock workers (JPEG 2000 then stays on the calling thread).
 */
async function poolWorkerFactory(): Promise<(() => Worker) | undefined> {
  if (inNode() || typeof Worker === 'undefined') {
    return undefined;
  }
  return (await import('./decodeWorker')).createDecodeWorker;
}

function defaultDecodeWorkers(): number {
  const g = globalThis as { process?: { versions?: { node?: string } }; navigator?: { hardwareConcurrency?: number } };
  if (g.process?.versions?.node) {
    return 0;
  }
  return Math.min(4, Math.max(1, (g.navigator?.hardwareConcurrency ?? 2) - 1));
}

/** One pool of decoder workers for all open slides (grown when asked for more). */
function decoderPool(gt: typeof GeoTiffNs, size: number, createWorker?: () => Worker): GeoTiffNs.Pool {
  if (!sharedPool || sharedPool.size < size) {
    void sharedPool?.pool.destroy();
    sharedPool = { size, pool: createWorker ? new gt.Pool(size, createWorker as never) : new gt.Pool(size) };
  }
  return sharedPool.pool;
}

/** Stop the shared decoder workers (tests, benchmarks, extension unload). */
export async function disposeDecoderPool(): Promise<void> {
  const p = sharedPool;
  sharedPool = undefined;
  await p?.pool.destroy();
}

async function value(ifd: ImageFileDirectory, tag: string | number): Promise<any> {
  return ifd.hasTag(tag as never) ? ifd.loadValue(tag as never) : undefined;
}

function firstNumber(v: unknown): number | undefined {
  if (typeof v === 'number') {
    return v;
  }
  if (v && typeof v === 'object' && 'length' in v && (v as ArrayLike<number>).length > 0) {
    return Number((v as ArrayLike<number>)[0]);
  }
  return undefined;
}

function asText(v: unknown): string | undefined {
  if (typeof v === 'string') {
    return v.replace(/\0+$/, '');
  }
  return undefined;
}

interface Page {
  ifd: ImageFileDirectory;
  width: number;
  height: number;
  tiled: boolean;
  description?: string;
  fromSubIfd: boolean;
}

async function describePage(ifd: ImageFileDirectory, fromSubIfd: boolean): Promise<Page> {
  return {
    ifd,
    width: Number(await value(ifd, 'ImageWidth')) || 0,
    height: Number(await value(ifd, 'ImageLength')) || 0,
    tiled: ifd.hasTag('TileWidth' as never),
    description: asText(await value(ifd, 'ImageDescription')),
    fromSubIfd
  };
}

/** More tiles or strips than this in one level is a corrupt or hostile header. */
export const MAX_BLOCKS_PER_LEVEL = 4 * 1024 * 1024;
const MAX_IFD_ENTRIES = 4096;

/**
 * Look at an IFD's raw entries before geotiff parses it: geotiff allocates
 * the offset/byte-count arrays at their declared length up front, so a
 * corrupt count would ask for gigabytes.
 */
async function precheckIfd(
  reader: HttpRangeReader,
  offset: number,
  littleEndian: boolean,
  bigTiff: boolean,
  signal?: AbortSignal
): Promise<void> {
  const countSize = bigTiff ? 8 : 2;
  const entrySize = bigTiff ? 20 : 12;
  const head = await reader.readCached(offset, countSize, signal);
  if (head.length < countSize) {
    throw slideError('truncated', `The file is truncated: its directory at byte ${offset} lies past the end.`);
  }
  const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const entries = bigTiff ? Number(hv.getBigUint64(0, littleEndian)) : hv.getUint16(0, littleEndian);
  if (entries === 0 || entries > MAX_IFD_ENTRIES) {
    throw slideError('truncated', `The TIFF directory at byte ${offset} declares ${entries} entries: the file is corrupt.`);
  }
  const body = await reader.readCached(offset + countSize, entries * entrySize, signal);
  if (body.length < entries * entrySize) {
    throw slideError('truncated', `The file is truncated inside its TIFF directory at byte ${offset}.`);
  }
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (let i = 0; i < entries; i++) {
    const at = i * entrySize;
    const tag = dv.getUint16(at, littleEndian);
    if (tag === 273 || tag === 279 || tag === 324 || tag === 325) {
      const count = bigTiff ? Number(dv.getBigUint64(at + 4, littleEndian)) : dv.getUint32(at + 4, littleEndian);
      if (count > MAX_BLOCKS_PER_LEVEL) {
        throw slideError(
          'invalid-size',
          `A level of the slide declares ${count} tiles or strips, far more than any slide has: the file is corrupt.`
        );
      }
    }
  }
}

function checkSize(width: number, height: number, what: string): void {
  if (!(width > 0) || !(height > 0)) {
    throw slideError('invalid-size', `The ${what} declares an empty size (${width} x ${height} pixels).`);
  }
  if (width > MAX_DIMENSION || height > MAX_DIMENSION || width * height > MAX_PIXELS) {
    throw slideError(
      'invalid-size',
      `The ${what} declares an implausible size (${width} x ${height} pixels); the file is corrupt or not a slide.`
    );
  }
}

/** Open a TIFF-family slide whose bytes `reader` serves. */
export async function openTiffSlide(
  reader: HttpRangeReader,
  options: { cacheBytes?: number; signal?: AbortSignal; name?: string; decodeWorkers?: number }
): Promise<SlideSource> {
  const gt = (await import('geotiff')) as typeof GeoTiffNs;
  const workers = options.decodeWorkers ?? defaultDecodeWorkers();
  // Start the workers now: they boot while the IFDs are being read.
  const createWorker = workers > 0 ? await poolWorkerFactory() : undefined;
  const pool = workers > 0 ? decoderPool(gt, workers, createWorker) : undefined;
  // J2K tiles go to the pool only when its workers are ours (they know the decoder).
  registerJpeg2000(gt, createWorker !== undefined);
  const source = new GeoTiffRangeSource(reader);
  let tiff: GeoTIFF;
  try {
    tiff = await gt.GeoTIFF.fromSource(source as never, {}, options.signal);
  } catch (e) {
    throw toSlideError(e);
  }

  // Walk the IFD chain (bounded) and the SubIFDs of the first page.
  const pages: Page[] = [];
  let ifdOffset = Number(tiff.firstIFDOffset);
  for (let i = 0; i < MAX_PAGES; i++) {
    await precheckIfd(reader, ifdOffset, tiff.littleEndian, tiff.bigTiff, options.signal);
    const ifd = await tiff.requestIFD(i);
    ifdOffset = Number(ifd.nextIFDByteOffset);
    pages.push(await describePage(ifd, false));
    if (!ifd.nextIFDByteOffset) {
      break;
    }
  }
  const first = pages[0];
  const subIfdOffsets = await value(first.ifd, TAG.SubIFDs);
  const subPages: Page[] = [];
  if (subIfdOffsets !== undefined) {
    const offsets: number[] = Array.from(
      (typeof subIfdOffsets === 'number' ? [subIfdOffsets] : subIfdOffsets) as ArrayLike<number | bigint>,
      Number
    );
    for (const off of offsets.slice(0, MAX_PAGES)) {
      await precheckIfd(reader, off, tiff.littleEndian, tiff.bigTiff, options.signal);
      subPages.push(await describePage(await tiff.parser.parseFileDirectoryAt(off), true));
    }
  }

  checkSize(first.width, first.height, 'slide');
  const aperio = parseAperioDescription(first.description);
  const ome = parseOmeXml(first.description);
  const format = aperio ? 'aperio-svs' : ome ? 'ome-tiff' : 'tiff';

  // Candidate levels: SubIFDs (OME pyramid) first, then later pages of the chain.
  const candidates = [...subPages, ...pages.slice(1)];
  const chosen: Page[] = [first];
  const byWidth = candidates
    .filter(p => {
      if (p.width >= first.width || p.width <= 0 || p.height <= 0) {
        return false;
      }
      if (!sameAspect(first.width, first.height, p.width, p.height)) {
        return false; // label, macro or another series
      }
      const kind = parseAperioDescription(p.description)?.kind;
      if (kind === 'label' || kind === 'macro' || /\b(label|macro)\b/i.test(p.description ?? '')) {
        return false;
      }
      // SVS thumbnails are stripped pages of a tiled pyramid.
      if (first.tiled && !p.tiled) {
        return false;
      }
      return true;
    })
    .sort((a, b) => b.width - a.width);
  for (const p of byWidth) {
    if (p.width < chosen[chosen.length - 1].width) {
      chosen.push(p);
    }
  }

  const levels: LevelImpl[] = [];
  for (const page of chosen) {
    levels.push(await makeLevel(gt, tiff, source, page, levels.length, first));
  }

  // Physical pixel size: Aperio MPP, OME PhysicalSize, else TIFF resolution tags.
  let mppX = aperio?.mpp;
  let mppY = aperio?.mpp;
  if (mppX === undefined && ome) {
    mppX = ome.mppX;
    mppY = ome.mppY ?? ome.mppX;
  }
  if (mppX === undefined) {
    const unit = firstNumber(await value(first.ifd, 'ResolutionUnit'));
    mppX = resolutionToMicrons(rationalToNumber(await value(first.ifd, 'XResolution')), unit);
    mppY = resolutionToMicrons(rationalToNumber(await value(first.ifd, 'YResolution')), unit) ?? mppX;
  }

  const properties: Record<string, string> = {
    'slide.format': format,
    'slide.compression': COMPRESSION_NAMES[levels[0].compression] ?? String(levels[0].compression),
    'slide.level-count': String(levels.length)
  };
  if (aperio) {
    properties['slide.vendor'] = 'aperio';
    for (const [k, v] of Object.entries(aperio.properties)) {
      properties[`aperio.${k}`] = v;
    }
    if (aperio.properties['AppMag']) {
      properties['slide.objective-power'] = aperio.properties['AppMag'];
    }
  }
  if (ome) {
    properties['ome.image-names'] = ome.imageNames.join(', ');
  }
  if (mppX !== undefined) {
    properties['slide.mpp-x'] = String(mppX);
    properties['slide.mpp-y'] = String(mppY ?? mppX);
  }
  const software = asText(await value(first.ifd, 'Software'));
  if (software) {
    properties['tiff.software'] = software;
  }
  if (!aperio && !ome && first.description) {
    properties['tiff.description'] = first.description.slice(0, 500);
  }

  const info: SlideInfo = {
    format,
    width: first.width,
    height: first.height,
    levels: levels.map(l => l.level),
    mppX,
    mppY: mppX === undefined ? undefined : (mppY ?? mppX),
    properties
  };
  return new TiffSlideSource(info, levels, reader, options.cacheBytes ?? 256 * 1024 * 1024, pool);
}

async function makeLevel(
  gt: typeof GeoTiffNs,
  tiff: GeoTIFF,
  source: GeoTiffRangeSource,
  page: Page,
  index: number,
  first: Page
): Promise<LevelImpl> {
  const ifd = page.ifd;
  const what = index === 0 ? 'slide' : `level ${index} of the slide`;
  checkSize(page.width, page.height, what);
  const image = new gt.GeoTIFFImage(ifd, tiff.littleEndian, false, source as never);
  const compression = firstNumber(await value(ifd, 'Compression')) ?? 1;
  if (!(compression in COMPRESSION_NAMES)) {
    const name = UNSUPPORTED_COMPRESSION_NAMES[compression];
    throw slideError(
      'unsupported-compression',
      `The slide uses TIFF compression ${compression}${name ? ` (${name})` : ''}, which this viewer cannot decode.`
    );
  }
  const samplesPerPixel = firstNumber(await value(ifd, 'SamplesPerPixel')) ?? 1;
  const bitsPerSample = firstNumber(await value(ifd, 'BitsPerSample')) ?? 1;
  const sampleFormat = firstNumber(await value(ifd, 'SampleFormat')) ?? 1;
  const planar = firstNumber(await value(ifd, 'PlanarConfiguration')) ?? 1;
  let photometric = firstNumber(await value(ifd, 'PhotometricInterpretation'));
  if (photometric === undefined) {
    photometric = samplesPerPixel >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_BLACK_IS_ZERO;
  }
  if (
    ![PHOTOMETRIC_WHITE_IS_ZERO, PHOTOMETRIC_BLACK_IS_ZERO, PHOTOMETRIC_RGB, PHOTOMETRIC_YCBCR].includes(photometric) ||
    (bitsPerSample !== 8 && bitsPerSample !== 16) ||
    sampleFormat !== 1 ||
    (photometric >= PHOTOMETRIC_RGB && samplesPerPixel < 3)
  ) {
    throw slideError(
      'unsupported-format',
      `The slide's pixel layout is not supported (photometric ${photometric}, ${samplesPerPixel} x ${bitsPerSample}-bit samples, sample format ${sampleFormat}); 8/16-bit grey, RGB and YCbCr are.`
    );
  }
  if (photometric === PHOTOMETRIC_YCBCR && compression !== 7) {
    const sub = await value(ifd, 'YCbCrSubSampling');
    if (sub && (Number(sub[0]) !== 1 || Number(sub[1]) !== 1)) {
      throw slideError('unsupported-format', 'Subsampled YCbCr without JPEG compression is not supported.');
    }
  }
  const extra = await value(ifd, 'ExtraSamples');
  const alphaSample =
    extra !== undefined && samplesPerPixel > (photometric >= PHOTOMETRIC_RGB ? 3 : 1)
      ? photometric >= PHOTOMETRIC_RGB
        ? 3
        : 1
      : undefined;

  const tileWidth = page.tiled ? Number(await value(ifd, 'TileWidth')) : page.width;
  const rowsPerStrip = page.tiled
    ? Number(await value(ifd, 'TileLength'))
    : Math.min(page.height, Number(firstNumber(await value(ifd, 'RowsPerStrip')) ?? page.height) || page.height);
  if (!(tileWidth > 0) || !(rowsPerStrip > 0) || tileWidth > MAX_TILE_SIDE || (page.tiled && rowsPerStrip > MAX_TILE_SIDE)) {
    throw slideError('invalid-size', `The ${what} declares an implausible tile size (${tileWidth} x ${rowsPerStrip}).`);
  }
  const stripsPerTile = page.tiled ? 1 : Math.max(1, Math.floor(STRIP_TILE_TARGET_HEIGHT / rowsPerStrip));
  const tileHeight = page.tiled ? rowsPerStrip : Math.min(page.height, rowsPerStrip * stripsPerTile);

  // Every tile needs an offset: a table shorter than the grid means a broken file.
  const offsetsTag = page.tiled ? 'TileOffsets' : 'StripOffsets';
  const blocks = page.tiled
    ? Math.ceil(page.width / tileWidth) * Math.ceil(page.height / rowsPerStrip)
    : Math.ceil(page.height / rowsPerStrip);
  const declared = declaredCount(ifd, offsetsTag);
  if (declared === undefined) {
    throw slideError('truncated', `The ${what} has no ${offsetsTag}: the file is corrupt.`);
  }
  if (declared < blocks * (planar === 2 ? samplesPerPixel : 1)) {
    throw slideError('truncated', `The ${what} lists ${declared} tiles where its size needs ${blocks}: the file is corrupt.`);
  }

  let jpegTables: JpegStreamInfo | undefined;
  if (compression === 7) {
    const tables = await value(ifd, 'JPEGTables');
    if (tables) {
      jpegTables = inspectJpeg(new Uint8Array(tables as ArrayLike<number>));
    }
  }

  return {
    level: {
      index,
      width: page.width,
      height: page.height,
      tileWidth,
      tileHeight,
      downsampleX: first.width / page.width,
      downsampleY: first.height / page.height
    },
    image,
    compression,
    photometric,
    rowsPerStrip,
    stripsPerTile,
    planar,
    layout: {
      samplesPerPixel: planar === 2 ? 1 : samplesPerPixel,
      bitsPerSample,
      photometric,
      alphaSample: planar === 2 ? undefined : alphaSample,
      ycbcr: photometric === PHOTOMETRIC_YCBCR && compression !== 7
    },
    jpegTables
  };
}

function declaredCount(ifd: ImageFileDirectory, tag: string): number | undefined {
  const code = tag === 'TileOffsets' ? 324 : 273;
  const deferred = ifd.deferredArrays.get(code) ?? ifd.deferredArrays.get(tag);
  if (deferred) {
    return deferred.length;
  }
  const v = ifd.actualizedFields.get(code) ?? ifd.actualizedFields.get(tag);
  if (v === undefined) {
    return undefined;
  }
  return typeof v === 'number' ? 1 : (v as ArrayLike<unknown>).length;
}

/** Decodes one tile's bytes and records what the JPEG stream says about its colours. */
async function levelDecoder(
  gt: typeof GeoTiffNs,
  lv: LevelImpl,
  pool: GeoTiffNs.Pool | undefined
): Promise<{ decode(buffer: ArrayBufferLike): Promise<ArrayBufferLike> }> {
  const ifd = lv.image.fileDirectory;
  const bitsPerSample = await value(ifd, 'BitsPerSample');
  const params: Record<string, unknown> = {
    tileWidth: lv.image.getTileWidth(),
    tileHeight: lv.image.getTileHeight(),
    predictor: firstNumber(await value(ifd, 'Predictor')) ?? 1,
    bitsPerSample,
    planarConfiguration: lv.planar,
    samplesPerPixel: lv.layout.samplesPerPixel
  };
  if (lv.compression === 7) {
    params.JPEGTables = await value(ifd, 'JPEGTables');
  }
  if (lv.compression === 33003 || lv.compression === 33005) {
    // For the decoder workers: where OpenJPEG's .wasm is served (absolute: a worker resolves against its own script).
    const oj = jpeg2000Config();
    const base = (globalThis as { location?: { href: string } }).location?.href;
    params.openjpeg = oj.wasmUrl && base ? { ...oj, wasmUrl: new URL(oj.wasmUrl, base).href } : oj;
  }
  // The pool decodes in its workers (JPEG 2000 too when they are ours, see poolWorkerFactory).
  const inner = pool ? pool.bindParameters(lv.compression, params as never) : await gt.getDecoder(lv.compression, params as never);
  return {
    decode: async (buffer: ArrayBufferLike) => {
      if (lv.compression === 7 && lv.jpegYcbcr === undefined && lv.layout.samplesPerPixel >= 3) {
        lv.jpegYcbcr = jpegIsYCbCr(lv.photometric, lv.jpegTables, inspectJpeg(new Uint8Array(buffer as ArrayBuffer)));
      }
      if (lv.compression === 33003 && lv.jpegYcbcr === undefined) {
        // Aperio YCbCr J2K: convert unless the codestream's own transform already did.
        lv.jpegYcbcr = codestreamHasMct(new Uint8Array(buffer as ArrayBuffer)) !== true;
      }
      return inner.decode(buffer);
    }
  };
}

interface TileJob {
  promise: Promise<RegionPixels>;
  waiters: number;
  cancel: () => void;
}

/** Await a shared tile job under the caller's own signal. */
function waitFor(job: TileJob, signal: AbortSignal | undefined): Promise<RegionPixels> {
  if (signal?.aborted) {
    if (job.waiters === 0) {
      job.cancel();
    }
    return Promise.reject(slideError('aborted', 'Reading the slide was cancelled.'));
  }
  job.waiters++;
  if (!signal) {
    return job.promise.finally(() => job.waiters--);
  }
  return new Promise<RegionPixels>((resolve, reject) => {
    let settled = false;
    const onAbort = (): void => {
      if (settled) {
        return;
      }
      settled = true;
      if (--job.waiters === 0) {
        job.cancel();
      }
      reject(slideError('aborted', 'Reading the slide was cancelled.'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    job.promise.then(
      tile => {
        if (!settled) {
          settled = true;
          job.waiters--;
          signal.removeEventListener('abort', onAbort);
          resolve(tile);
        }
      },
      e => {
        if (!settled) {
          settled = true;
          job.waiters--;
          signal.removeEventListener('abort', onAbort);
          reject(e);
        }
      }
    );
  });
}

class TiffSlideSource implements SlideSource {
  private readonly cache: LruCache<RegionPixels>;
  private readonly inflight = new Map<string, TileJob>();
  private disposed = false;

  constructor(
    readonly info: SlideInfo,
    private readonly levels: LevelImpl[],
    private readonly reader: HttpRangeReader,
    cacheBytes: number,
    private readonly pool?: GeoTiffNs.Pool
  ) {
    this.cache = new LruCache<RegionPixels>(cacheBytes);
  }

  get bytesRead(): number {
    return this.reader.bytesRead;
  }

  get cachedBytes(): number {
    return this.cache.bytes + this.reader.cachedBytes;
  }

  /** HTTP requests sent so far (benchmarks). */
  get requestCount(): number {
    return this.reader.requests;
  }

  async readTile(level: number, col: number, row: number, options?: ReadOptions): Promise<RegionPixels> {
    const lv = this.levels[level];
    if (!lv) {
      throw slideError('invalid-size', `The slide has no level ${level}.`);
    }
    const cols = Math.ceil(lv.level.width / lv.level.tileWidth);
    const rows = Math.ceil(lv.level.height / lv.level.tileHeight);
    if (col < 0 || row < 0 || col >= cols || row >= rows || !Number.isInteger(col) || !Number.isInteger(row)) {
      throw slideError('invalid-size', `Tile (${col}, ${row}) is outside level ${level} (${cols} x ${rows} tiles).`);
    }
    const key = `${level}/${col}/${row}`;
    const cached = this.cache.get(key);
    if (cached) {
      return cached;
    }
    let job = this.inflight.get(key);
    if (!job) {
      // One download+decode per tile, shared by every caller; it is aborted
      // only when all its callers have given up.
      const controller = new AbortController();
      const forget = (): void => {
        if (this.inflight.get(key) === created) {
          this.inflight.delete(key);
        }
      };
      const created: TileJob = {
        promise: Promise.resolve() as never,
        waiters: 0,
        cancel: () => {
          forget(); // a later caller starts afresh instead of joining a cancelled job
          controller.abort();
        }
      };
      created.promise = this.decodeTile(lv, col, row, controller.signal).then(
        tile => {
          forget();
          if (!this.disposed) {
            this.cache.set(key, tile, tile.data.byteLength);
          }
          return tile;
        },
        e => {
          forget();
          throw toSlideError(e);
        }
      );
      created.promise.catch(() => undefined);
      this.inflight.set(key, created);
      job = created;
    }
    return waitFor(job, options?.signal);
  }

  readRegion(rect: LevelRect, options?: ReadOptions): Promise<RegionPixels> {
    const lv = this.levels[rect.level];
    if (!lv) {
      return Promise.reject(slideError('invalid-size', `The slide has no level ${rect.level}.`));
    }
    return readRegionFromTiles(lv.level, rect, (c, r) => this.readTile(rect.level, c, r, options));
  }

  private async decodeTile(lv: LevelImpl, col: number, row: number, signal?: AbortSignal): Promise<RegionPixels> {
    if (!lv.decoder) {
      const gt = (await import('geotiff')) as typeof GeoTiffNs;
      lv.decoder = levelDecoder(gt, lv, this.pool);
      lv.decoder.catch(() => (lv.decoder = undefined));
    }
    const decoder = await lv.decoder;
    const { width: levelW, height: levelH, tileWidth, tileHeight } = lv.level;
    const x0 = col * tileWidth;
    const y0 = row * tileHeight;
    const w = Math.min(tileWidth, levelW - x0);
    const h = Math.min(tileHeight, levelH - y0);
    const out = transparentWhite(w, h);
    const samplePlanes = lv.planar === 2 ? Math.min(lv.image.getSamplesPerPixel(), 3) : 1;
    const blockRows = lv.stripsPerTile;
    const blockHeight = lv.rowsPerStrip;
    for (let b = 0; b < blockRows; b++) {
      const blockY = lv.image.isTiled ? row : row * lv.stripsPerTile + b;
      const top = lv.image.isTiled ? 0 : b * blockHeight;
      if (y0 + top >= levelH) {
        break;
      }
      const rowsHere = Math.min(blockHeight, h - top);
      const planes: ArrayLike<number>[] = [];
      for (let s = 0; s < samplePlanes; s++) {
        const { data } = await lv.image.getTileOrStrip(lv.image.isTiled ? col : 0, blockY, s, decoder as never, signal);
        planes.push(typedView(data, lv.layout.bitsPerSample));
      }
      const samples = samplePlanes === 1 ? planes[0] : interleavePlanes(planes);
      const layout: SampleLayout =
        samplePlanes === 1
          ? { ...lv.layout, ycbcr: lv.layout.ycbcr || lv.jpegYcbcr === true }
          : { ...lv.layout, samplesPerPixel: samplePlanes };
      const stride = lv.image.isTiled ? tileWidth : levelW;
      const available = Math.floor(samples.length / (stride * layout.samplesPerPixel));
      if (available === 0 && rowsHere > 0) {
        throw slideError('decode', `Tile (${col}, ${row}) of level ${lv.level.index} decoded to no pixels; the file is corrupt.`);
      }
      blitSamplesToRgba(samples, stride, layout, 0, 0, w, Math.min(rowsHere, available), out, w, 0, top);
      if (lv.image.isTiled) {
        break;
      }
    }
    return { width: w, height: h, data: out };
  }

  dispose(): void {
    this.disposed = true;
    this.cache.clear();
    this.inflight.clear();
    this.reader.clear();
  }
}

function typedView(data: ArrayBufferLike, bits: number): ArrayLike<number> {
  return bits > 8 ? new Uint16Array(data as ArrayBuffer) : new Uint8Array(data as ArrayBuffer);
}

function interleavePlanes(planes: ArrayLike<number>[]): Uint16Array {
  const n = Math.min(...planes.map(p => p.length));
  const out = new Uint16Array(n * planes.length);
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < planes.length; s++) {
      out[i * planes.length + s] = planes[s][i];
    }
  }
  return out;
}

export { registerJpeg2000 } from './j2kDecoder';
