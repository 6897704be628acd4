/**
 * Starts the suggestion worker (suggest.worker.ts). Its own module: the
 * bundler emits the worker as a chunk from `new URL(..., import.meta.url)`,
 * and jest (CommonJS) never loads this file.
 */
export function createSuggestWorker(): Worker {
  // prettier-ignore
  // eslint-disable-next-line @typescript-eslint/ban-ts-comment
  // @ts-ignore TS1343 under module=commonjs only
  return new Worker(new URL('./suggest.worker.js', import.meta.url), { name: 'uga-suggest' });
}
