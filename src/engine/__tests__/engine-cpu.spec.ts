import { initBackend } from '../backends';
import { engineSuite } from './engineSuite';

beforeAll(async () => {
  expect(await initBackend('cpu')).toBe('cpu');
});

engineSuite('cpu', { size: 8, distributionSamples: 400 });
