/**
 * JPEG 2000 tiles of Aperio SVS (TIFF compression 33003 = YCbCr, 33005 = RGB)
 * decoded with OpenJPEG compiled to WASM (@cornerstonejs/codec-openjpeg),
 * loaded lazily on first use.
 *
 * Loading: in Node the WASM build finds its .wasm next to its JS file. In a
 * browser bundle the .wasm must be served as an asset: call
 * `configureJpeg2000({ wasmUrl })` with its URL (e.g. the bundler's asset URL
 * of '@cornerstonejs/codec-openjpeg/decodewasm'). Without a URL the browser
 * uses the package's self-contained JS build (no asset needed, slower).
 */

import { slideError } from './errors';
import { SlideError } from './types';
export interface OpenJpegFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean;
}

export interface OpenJpegDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): OpenJpegFrameInfo;
  delete?(): void;
}

export interface OpenJpegModule {
  J2KDecoder: new () => OpenJpegDecoder;
}

export type OpenJpegFactory = (moduleArg?: Record<string, unknown>) => Promise<OpenJpegModule>;

let wasmUrl: string | undefined;
let forcedBuild: 'wasm' | 'js' | undefined;
let modulePromise: Promise<OpenJpegModule> | undefined;

/**
 * Tell the browser build where the OpenJPEG .wasm is served (call before the
 * first J2K slide opens), or force a build ('js' = self-contained, no .wasm).
 */
export function configureJpeg2000(options: { wasmUrl?: string; build?: 'wasm' | 'js' }): void {
  wasmUrl = options.wasmUrl;
  forcedBuild = options.build;
  modulePromise = undefined;
}

/** The settings configureJpeg2000 set (decoder workers get them with each job). */
export function jpeg2000Config(): { wasmUrl?: string; build?: 'wasm' | 'js' } {
  return { ...(wasmUrl ? { wasmUrl } : {}), ...(forcedBuild ? { build: forcedBuild } : {}) };
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return !!p?.versions?.node;
}

// Silence OpenJPEG's per-tile [INFO] lines.
const quiet = { print: () => undefined, printErr: () => undefined };

function defaultOf(mod: unknown): OpenJpegFactory {
  const m = mod as { default?: unknown };
  return (typeof m.default === 'function' ? m.default : mod) as OpenJpegFactory;
}

/** Load (once) the OpenJPEG module. */
export function loadOpenJpeg(): Promise<OpenJpegModule> {
  if (!modulePromise) {
    modulePromise = (async () => {
      if (forcedBuild === 'js') {
        const factory = defaultOf(await import('@cornerstonejs/codec-openjpeg/decode'));
        return factory({ ...quiet });
      }
      if (isNode()) {
        const factory = defaultOf(await import('@cornerstonejs/codec-openjpeg/decodewasmjs'));
        return factory({ ...quiet });
      }
      if (wasmUrl) {
        const url = wasmUrl;
        const factory = defaultOf(await import('@cornerstonejs/codec-openjpeg/decodewasmjs'));
        return factory({ ...quiet, locateFile: () => url });
      }
      const factory = defaultOf(await import('@cornerstonejs/codec-openjpeg/decode'));
      return factory({ ...quiet });
    })();
    modulePromise.catch(() => (modulePromise = undefined));
  }
  return modulePromise;
}

export interface J2kImage {
  width: number;
  height: number;
  components: number;
  /** Interleaved samples, 8 bit (higher depths are reduced to 8 bit). */
  data: Uint8Array;
}

/** Decode one JPEG 2000 codestream (J2K or JP2) to interleaved 8-bit samples. */
export async function decodeJpeg2000(bytes: Uint8Array): Promise<J2kImage> {
  const mod = await loadOpenJpeg();
  const decoder = new mod.J2KDecoder();
  try {
    return decodeWith(decoder, bytes);
  } catch (e) {
    // OpenJPEG throws numbers or plain errors from wasm: one kind for the UI.
    throw e instanceof SlideError
      ? e
      : slideError('decode', `A JPEG 2000 tile could not be decoded: ${e instanceof Error ? e.message : String(e)}`, e);
  } finally {
    decoder.delete?.();
  }
}

function decodeWith(decoder: OpenJpegDecoder, bytes: Uint8Array): J2kImage {
  {
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    decoder.decode();
    const info = decoder.getFrameInfo();
    const raw = decoder.getDecodedBuffer();
    const n = info.width * info.height * info.componentCount;
    if (n === 0 || raw.length < n * (info.bitsPerSample > 8 ? 2 : 1)) {
      throw new Error(`the JPEG 2000 codestream could not be decoded (${info.width} x ${info.height} x ${info.componentCount})`);
    }
    let data: Uint8Array;
    if (info.bitsPerSample <= 8) {
      data = raw.slice(0, n);
    } else {
      // 16-bit little-endian samples: keep the high byte of the value range.
      const words = new Uint16Array(raw.buffer, raw.byteOffset, n);
      const shift = info.bitsPerSample - 8;
      data = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        data[i] = words[i] >> shift;
      }
    }
    return { width: info.width, height: info.height, components: info.componentCount, data };
  }
}

/**
 * Whether a J2K codestream applies a multi-component transform itself (COD
 * marker's MCT byte). Aperio 33003 streams without it hold YCbCr samples.
 */
export function codestreamHasMct(bytes: Uint8Array): boolean | undefined {
  // J2K codestream starts with SOC (FF4F); find COD (FF52) among the main-header markers.
  let i = 0;
  if (bytes[0] === 0xff && bytes[1] === 0x4f) {
    i = 2;
  } else {
    return undefined; // JP2 box wrapper: not used by Aperio
  }
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) {
      return undefined;
    }
    const marker = bytes[i + 1];
    const len = (bytes[i + 2] << 8) | bytes[i + 3];
    if (marker === 0x52) {
      // COD: Lcod(2) Scod(1) progression(1) layers(2) MCT(1)
      return bytes[i + 4 + 1 + 1 + 2] === 1;
    }
    if (marker === 0x90) {
      return undefined; // SOT: main header ended
    }
    i += 2 + len;
  }
  return undefined;
}
