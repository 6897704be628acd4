/**
 * Starts a decoder worker (decode.worker.ts) for the slide reader's pool.
 * Its own module: `new URL(..., import.meta.url)` is what lets the bundler
 * emit the worker as a chunk, and jest (CommonJS) never loads this file.
 */
export function createDecodeWorker(): Worker {
  // The bundler needs this exact shape; tsconfig.test.json (CommonJS) rejects import.meta, jest never loads this file.
  // prettier-ignore
  // eslint-disable-next-line @typescript-eslint/ban-ts-comment
  // @ts-ignore TS1343 under module=commonjs only
  return new Worker(new URL('./decode.worker.js', import.meta.url), { name: 'uga-slide-decoder' });
}
