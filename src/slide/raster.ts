/**
 * Plain PNG / JPEG images as single-level slides: the file is fetched and
 * decoded once (these are small by nature), then served in virtual tiles.
 */
import { slideError, toSlideError } from './errors';
import { HttpRangeReader } from './http';
import { copyRgba, readRegionFromTiles } from './region';
import { LevelRect, ReadOptions, RegionPixels, SlideInfo, SlideSource } from './types';

/** Decodes a whole PNG/JPEG file to RGBA. Injectable so Node tests can use pngjs. */
export type ImageDecoder = (bytes: Uint8Array, mimeType: string) => Promise<RegionPixels>;

/** Largest plain image accepted (pixels): beyond this a browser canvas fails anyway. */
export const MAX_RASTER_PIXELS = 16384 * 16384;
export const MAX_RASTER_SIDE = 32767;
/** Largest plain image file read (bytes). */
export const MAX_RASTER_FILE_BYTES = 512 * 1024 * 1024;
/** Side of the virtual tiles of big plain images. */
const RASTER_TILE = 1024;

/** Browser decoder: createImageBitmap + OffscreenCanvas (or a DOM canvas). */
export const browserImageDecoder: ImageDecoder = async (bytes, mimeType) => {
  const blob = new Blob([bytes as BlobPart], { type: mimeType });
  const bitmap = await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  try {
    const { width, height } = bitmap;
    let ctx: OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D | null;
    if (typeof OffscreenCanvas !== 'undefined') {
      ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
    } else {
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      ctx = canvas.getContext('2d', { willReadFrequently: true });
    }
    if (!ctx) {
      throw slideError('decode', 'The browser could not create a canvas to decode the image.');
    }
    ctx.drawImage(bitmap, 0, 0);
    return { width, height, data: ctx.getImageData(0, 0, width, height).data };
  } finally {
    bitmap.close();
  }
};

/** Width/height from a PNG IHDR or a JPEG SOF, read before decoding to refuse absurd sizes. */
export function rasterDimensions(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length >= 24 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    let i = 2;
    while (i + 9 < bytes.length) {
      if (bytes[i] !== 0xff) {
        i++;
        continue;
      }
      const marker = bytes[i + 1];
      if (marker === 0xff || marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
        i += marker === 0xff ? 1 : 2;
        continue;
      }
      const len = (bytes[i + 2] << 8) | bytes[i + 3];
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: (bytes[i + 5] << 8) | bytes[i + 6], width: (bytes[i + 7] << 8) | bytes[i + 8] };
      }
      if (marker === 0xda || marker === 0xd9) {
        return undefined;
      }
      i += 2 + len;
    }
  }
  return undefined;
}

export async function openRasterSlide(
  reader: HttpRangeReader,
  options: { format: 'png' | 'jpeg'; decode?: ImageDecoder; signal?: AbortSignal }
): Promise<SlideSource> {
  const head = await reader.readCached(0, 64 * 1024, options.signal);
  const size = reader.size ?? head.length;
  if (size > MAX_RASTER_FILE_BYTES) {
    throw slideError(
      'invalid-size',
      `The ${options.format.toUpperCase()} file is too large to open as one image (${size} bytes); convert it to a pyramidal TIFF.`
    );
  }
  const dims = rasterDimensions(head);
  if (!dims) {
    throw slideError('truncated', `The ${options.format.toUpperCase()} header is missing or corrupt.`);
  }
  if (
    dims.width <= 0 ||
    dims.height <= 0 ||
    dims.width > MAX_RASTER_SIDE ||
    dims.height > MAX_RASTER_SIDE ||
    dims.width * dims.height > MAX_RASTER_PIXELS
  ) {
    throw slideError(
      'invalid-size',
      `The image declares a size of ${dims.width} x ${dims.height} pixels, which cannot be decoded in the browser.`
    );
  }
  const bytes = size <= head.length ? head.subarray(0, size) : await reader.read(0, size, options.signal);
  const mime = options.format === 'png' ? 'image/png' : 'image/jpeg';
  let pixels: RegionPixels;
  try {
    pixels = await (options.decode ?? browserImageDecoder)(bytes, mime);
  } catch (e) {
    const err = toSlideError(e);
    throw err.kind === 'aborted'
      ? err
      : slideError('decode', `The ${options.format.toUpperCase()} image could not be decoded: ${err.message}`, e);
  }
  return new RasterSlideSource(options.format, pixels, reader);
}

class RasterSlideSource implements SlideSource {
  readonly info: SlideInfo;

  constructor(
    format: string,
    private pixels: RegionPixels,
    private readonly reader: HttpRangeReader
  ) {
    const { width, height } = pixels;
    this.info = {
      format,
      width,
      height,
      levels: [
        {
          index: 0,
          width,
          height,
          tileWidth: width <= 2 * RASTER_TILE ? width : RASTER_TILE,
          tileHeight: height <= 2 * RASTER_TILE ? height : RASTER_TILE,
          downsampleX: 1,
          downsampleY: 1
        }
      ],
      properties: { 'slide.format': format, 'slide.level-count': '1' }
    };
  }

  get bytesRead(): number {
    return this.reader.bytesRead;
  }

  /** The decoded image (held whole) and the reader's blocks. */
  get cachedBytes(): number {
    return this.pixels.data.byteLength + this.reader.cachedBytes;
  }

  async readTile(level: number, col: number, row: number): Promise<RegionPixels> {
    const lv = this.info.levels[level];
    if (!lv) {
      throw slideError('invalid-size', `The image has no level ${level}.`);
    }
    const x = col * lv.tileWidth;
    const y = row * lv.tileHeight;
    if (col < 0 || row < 0 || x >= lv.width || y >= lv.height) {
      throw slideError('invalid-size', `Tile (${col}, ${row}) is outside the image.`);
    }
    const w = Math.min(lv.tileWidth, lv.width - x);
    const h = Math.min(lv.tileHeight, lv.height - y);
    if (x === 0 && y === 0 && w === lv.width && h === lv.height) {
      return this.pixels;
    }
    const tile: RegionPixels = { width: w, height: h, data: new Uint8ClampedArray(w * h * 4) };
    copyRgba(this.pixels, x, y, tile, 0, 0, w, h);
    return tile;
  }

  readRegion(rect: LevelRect, _options?: ReadOptions): Promise<RegionPixels> {
    const lv = this.info.levels[rect.level];
    if (!lv) {
      return Promise.reject(slideError('invalid-size', `The image has no level ${rect.level}.`));
    }
    return readRegionFromTiles(lv, rect, (c, r) => this.readTile(rect.level, c, r));
  }

  dispose(): void {
    this.pixels = { width: 0, height: 0, data: new Uint8ClampedArray(0) };
    this.reader.clear();
  }
}
