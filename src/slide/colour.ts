/**
 * Colour handling: decoded TIFF samples to RGBA, YCbCr conversion, and the
 * JPEG stream inspection that tells whether a JPEG tile holds YCbCr or RGB
 * (geotiff.js's JPEG decoder returns raw components, no colour transform).
 */

/** TIFF PhotometricInterpretation values we handle. */
export const PHOTOMETRIC_WHITE_IS_ZERO = 0;
export const PHOTOMETRIC_BLACK_IS_ZERO = 1;
export const PHOTOMETRIC_RGB = 2;
export const PHOTOMETRIC_YCBCR = 6;

export interface JpegStreamInfo {
  /** APP0 'JFIF' present (implies YCbCr for 3 components). */
  jfif: boolean;
  /** APP14 'Adobe' transform flag (0 = none/RGB, 1 = YCbCr, 2 = YCCK) when present. */
  adobeTransform?: number;
  /** Component identifiers from the frame header (SOF), when the stream has one. */
  componentIds: number[];
}

/** Walk JPEG markers up to the first SOS; cheap (headers only). */
export function inspectJpeg(bytes: Uint8Array): JpegStreamInfo {
  const info: JpegStreamInfo = { jfif: false, componentIds: [] };
  let i = 0;
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    return info;
  }
  i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) {
      i++;
      continue;
    }
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) {
      break;
    }
    const len = (bytes[i + 2] << 8) | bytes[i + 3];
    const seg = i + 4;
    if (marker === 0xe0 && len >= 7 && String.fromCharCode(...bytes.subarray(seg, seg + 4)) === 'JFIF') {
      info.jfif = true;
    } else if (marker === 0xee && len >= 12 && String.fromCharCode(...bytes.subarray(seg, seg + 5)) === 'Adobe') {
      info.adobeTransform = bytes[seg + 11];
    } else if (
      (marker >= 0xc0 && marker <= 0xc3) ||
      (marker >= 0xc5 && marker <= 0xc7) ||
      (marker >= 0xc9 && marker <= 0xcb) ||
      (marker >= 0xcd && marker <= 0xcf)
    ) {
      const n = bytes[seg + 5];
      for (let c = 0; c < n; c++) {
        info.componentIds.push(bytes[seg + 6 + c * 3]);
      }
    }
    i += 2 + len;
  }
  return info;
}

/**
 * Whether the 3 decoded components of a JPEG tile are YCbCr (need conversion).
 * Same decision as libjpeg/tifffile: PhotometricInterpretation 6 = YCbCr; an
 * Adobe marker's transform flag or 'R','G','B' component ids decide when
 * present; a JFIF marker means YCbCr (OME-TIFF writers store JFIF tiles under
 * Photometric RGB); Photometric RGB without JFIF is RGB as stored (Aperio
 * compresses RGB without a transform).
 */
export function jpegIsYCbCr(photometric: number | undefined, tables: JpegStreamInfo | undefined, tile: JpegStreamInfo): boolean {
  if (photometric === PHOTOMETRIC_YCBCR) {
    return true;
  }
  const adobe = tile.adobeTransform ?? tables?.adobeTransform;
  if (adobe !== undefined) {
    return adobe !== 0;
  }
  const ids = tile.componentIds;
  if (ids.length === 3 && ids[0] === 0x52 && ids[1] === 0x47 && ids[2] === 0x42) {
    return false; // 'R','G','B'
  }
  if (tile.jfif || tables?.jfif === true) {
    return true;
  }
  return photometric !== PHOTOMETRIC_RGB;
}

export interface SampleLayout {
  samplesPerPixel: number;
  /** 8 or 16 (16-bit data is reduced to its high byte). */
  bitsPerSample: number;
  photometric: number;
  /** Index of an alpha sample, if any (ExtraSamples). */
  alphaSample?: number;
  /** Convert YCbCr to RGB. */
  ycbcr: boolean;
}

/**
 * Interleaved decoded samples (one tile, `srcWidth` pixels per row) to RGBA,
 * written into `out` (outWidth wide) at (dx, dy), copying `w` x `h` pixels
 * starting at (sx, sy) of the source.
 */
export function blitSamplesToRgba(
  src: ArrayLike<number>,
  srcWidth: number,
  layout: SampleLayout,
  sx: number,
  sy: number,
  w: number,
  h: number,
  out: Uint8ClampedArray,
  outWidth: number,
  dx: number,
  dy: number
): void {
  const spp = layout.samplesPerPixel;
  const shift = layout.bitsPerSample > 8 ? layout.bitsPerSample - 8 : 0;
  const grey = spp < 3;
  const invert = layout.photometric === PHOTOMETRIC_WHITE_IS_ZERO;
  const alpha = layout.alphaSample;
  for (let row = 0; row < h; row++) {
    let s = ((sy + row) * srcWidth + sx) * spp;
    let o = ((dy + row) * outWidth + dx) * 4;
    for (let col = 0; col < w; col++, s += spp, o += 4) {
      if (grey) {
        let v = src[s] >> shift;
        if (invert) {
          v = 255 - v;
        }
        out[o] = v;
        out[o + 1] = v;
        out[o + 2] = v;
      } else if (layout.ycbcr) {
        const y = src[s] >> shift;
        const cb = (src[s + 1] >> shift) - 128;
        const cr = (src[s + 2] >> shift) - 128;
        out[o] = y + 1.402 * cr; // Uint8ClampedArray clamps and rounds
        out[o + 1] = y - 0.344136 * cb - 0.714136 * cr;
        out[o + 2] = y + 1.772 * cb;
      } else {
        out[o] = src[s] >> shift;
        out[o + 1] = src[s + 1] >> shift;
        out[o + 2] = src[s + 2] >> shift;
      }
      out[o + 3] = alpha !== undefined && alpha < spp ? src[s + alpha] >> shift : 255;
    }
  }
}

/** RGBA buffer filled with transparent white (what lies outside a level). */
export function transparentWhite(width: number, height: number): Uint8ClampedArray {
  const data = new Uint8ClampedArray(width * height * 4);
  if (LITTLE_ENDIAN) {
    // One 32-bit store per pixel: bytes FF FF FF 00 (a native fill, ~10x the byte loop).
    new Uint32Array(data.buffer, data.byteOffset, width * height).fill(0x00ffffff);
    return data;
  }
  for (let i = 0; i < data.length; i += 4) {
    data[i] = 255;
    data[i + 1] = 255;
    data[i + 2] = 255;
  }
  return data;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
