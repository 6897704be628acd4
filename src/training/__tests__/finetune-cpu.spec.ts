import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../engine/backends';
import { trainingSuite } from './trainingSuite';

beforeAll(async () => {
  expect(await initBackend('cpu')).toBe('cpu');
  expect(tf.getBackend()).toBe('cpu');
});

trainingSuite('cpu', { steps: 40 });
