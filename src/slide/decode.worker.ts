/**
 * Decoder worker of the slide reader's pool: geotiff.js' own protocol and
 * decoders (JPEG, Deflate, LZW, ...) plus Aperio JPEG 2000 (OpenJPEG), so
 * that no tile is decoded on the page's main thread. The OpenJPEG settings
 * (configureJpeg2000 on the page) come with each J2K job's parameters.
 */
import * as gt from 'geotiff';
import { configureJpeg2000 } from './jpeg2000';
import { registerJpeg2000 } from './j2kDecoder';

interface Job {
  compression: number;
  decoderParameters: Record<string, unknown> & { openjpeg?: { wasmUrl?: string; build?: 'wasm' | 'js' } };
  buffer: ArrayBuffer;
  [extra: string]: unknown;
}

interface WorkerScope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent<Job>) => void): void;
}

const scope = self as unknown as WorkerScope;
registerJpeg2000(gt);
let openjpeg = '';

scope.addEventListener('message', async (e: MessageEvent<Job>) => {
  const { compression, decoderParameters, buffer, ...extra } = e.data;
  try {
    if ((compression === 33003 || compression === 33005) && decoderParameters.openjpeg) {
      const key = JSON.stringify(decoderParameters.openjpeg);
      if (key !== openjpeg) {
        openjpeg = key;
        configureJpeg2000(decoderParameters.openjpeg);
      }
    }
    const decoder = await gt.getDecoder(compression, decoderParameters as never);
    const decoded = (await decoder.decode(buffer)) as ArrayBuffer;
    scope.postMessage({ decoded, ...extra }, [decoded]);
  } catch (err) {
    scope.postMessage({ error: err instanceof Error ? err.message : String(err), ...extra });
  }
});
