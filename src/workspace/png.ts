/**
 * PNG encode/decode with fast-png (pure JS on pako's deflate): the same bytes
 * in the browser bundle and in jest/Node, 8-bit RGB and 8-bit greyscale
 * (mode L, what the Python reader requires for masks). The browser's
 * OffscreenCanvas.convertToBlob writes only RGBA and is absent in Node, and
 * pngjs needs Node streams/Buffer, so neither serves both places.
 * fast-png 6.x: 7+ ships ESM only, which ts-jest (CommonJS) cannot require.
 */
import { decode, encode } from 'fast-png';
import { WorkspaceError } from './errors';

/** RGBA (or RGB) pixels -> 8-bit RGB PNG; alpha is dropped. */
export function encodeRgbPng(pixels: ArrayLike<number>, width: number, height: number): Uint8Array {
  const n = width * height;
  const channels = pixels.length === n * 4 ? 4 : pixels.length === n * 3 ? 3 : 0;
  if (!channels) {
    throw new WorkspaceError(
      'usage',
      `image has ${pixels.length} values, expected ${n * 4} (RGBA) or ${n * 3} (RGB) for ${width}x${height}`
    );
  }
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    rgb[i * 3] = pixels[i * channels];
    rgb[i * 3 + 1] = pixels[i * channels + 1];
    rgb[i * 3 + 2] = pixels[i * channels + 2];
  }
  return encode({ width, height, data: rgb, channels: 3, depth: 8 });
}

/** Class-index mask -> 8-bit greyscale PNG. */
export function encodeGreyPng(mask: Uint8Array, width: number, height: number): Uint8Array {
  if (mask.length !== width * height) {
    throw new WorkspaceError('usage', `mask has ${mask.length} values, expected ${width * height} for ${width}x${height}`);
  }
  return encode({ width, height, data: mask, channels: 1, depth: 8 });
}

export interface DecodedImage {
  width: number;
  height: number;
  /** Channels of the file: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (palette files: 1, indices). */
  channels: number;
  palette: boolean;
  data: Uint8Array;
}

export function decodePng(bytes: Uint8Array, what: string): DecodedImage {
  let png;
  try {
    png = decode(bytes);
  } catch (e) {
    throw new WorkspaceError('invalid', `${what} is not a readable PNG (${(e as Error).message})`, e);
  }
  if (png.depth !== 8) {
    throw new WorkspaceError('invalid', `${what}: ${png.depth}-bit PNG, expected 8-bit`);
  }
  return { width: png.width, height: png.height, channels: png.channels, palette: !!png.palette, data: png.data as Uint8Array };
}

/** A patch PNG (RGB, RGBA, grey, palette) -> RGBA, like Pillow's convert('RGB') plus opaque alpha. */
export function toRgba(img: DecodedImage, what: string): Uint8ClampedArray {
  const n = img.width * img.height;
  const out = new Uint8ClampedArray(n * 4);
  if (img.palette) {
    throw new WorkspaceError('invalid', `${what}: palette PNG images are not supported here; save it as RGB`);
  }
  const c = img.channels;
  for (let i = 0; i < n; i++) {
    if (c >= 3) {
      out[i * 4] = img.data[i * c];
      out[i * 4 + 1] = img.data[i * c + 1];
      out[i * 4 + 2] = img.data[i * c + 2];
    } else {
      out[i * 4] = out[i * 4 + 1] = out[i * 4 + 2] = img.data[i * c];
    }
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** A mask PNG -> class indices; mode L (or palette indices, as Pillow reads 'P') only. */
export function toMask(img: DecodedImage, what: string): Uint8Array {
  if (img.channels !== 1) {
    throw new WorkspaceError('invalid', `${what} must be an 8-bit single-channel PNG (mode L), it has ${img.channels} channels`);
  }
  return img.data;
}

// base64 without Node's Buffer (the Contents API carries binary files as base64)
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    s += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + chunk)));
  }
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64.replace(/\s+/g, ''));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    out[i] = s.charCodeAt(i);
  }
  return out;
}
