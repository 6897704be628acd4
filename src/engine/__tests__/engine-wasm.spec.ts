import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backends';
import { engineSuite } from './engineSuite';

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

it('auto picks wasm in Node (no WebGPU adapter, no WebGL) and reports it', async () => {
  const fallbacks: string[] = [];
  const name = await initBackend('auto', { onFallback: n => fallbacks.push(n) });
  // navigator.gpu is absent in plain Node and WebGL is browser-only.
  expect(name).toBe('wasm');
  expect(fallbacks).toEqual(['webgpu', 'webgl']);
  expect(tf.getBackend()).toBe('wasm');
});

it('a forced backend that cannot start is an error naming it', async () => {
  await expect(initBackend('webgl')).rejects.toThrow(/webgl/);
  // ...and the running backend is left usable.
  await initBackend('wasm');
  expect(tf.getBackend()).toBe('wasm');
});

engineSuite('wasm', { size: 8, distributionSamples: 400 });
