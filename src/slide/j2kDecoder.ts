/**
 * The OpenJPEG decoder as a geotiff.js decoder for Aperio JPEG 2000
 * (compressions 33003/33005): registered on the page and in the decoder
 * workers (decode.worker.ts).
 */
import type * as GeoTiffNs from 'geotiff';
import type { BaseDecoder } from 'geotiff';
import { decodeJpeg2000 } from './jpeg2000';

const registered = new WeakSet<object>();

/**
 * Register the decoder with this geotiff module (once). `preferWorker`: a
 * decoder pool sends J2K tiles to its workers (which must know the decoder:
 * ours do, geotiff's stock workers do not).
 */
export function registerJpeg2000(gt: typeof GeoTiffNs, preferWorker = false): void {
  if (registered.has(gt)) {
    return;
  }
  registered.add(gt);
  class Jpeg2000Decoder extends gt.BaseDecoder {
    async decodeBlock(buffer: ArrayBufferLike): Promise<ArrayBufferLike> {
      const image = await decodeJpeg2000(new Uint8Array(buffer as ArrayBuffer));
      return image.data.buffer;
    }
  }
  gt.addDecoder([33003, 33005], () => Promise.resolve(Jpeg2000Decoder as unknown as typeof BaseDecoder), undefined, preferWorker);
}
