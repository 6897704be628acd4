import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../engine/backends';
import { loadSegmentationModel } from '../../engine/model';
import { IGNORE_LABEL } from '../../tokens';
import { confidentLabels, filesHandler, pseudoLabelReplay } from '../finetune';
import { redPatches, tinyFiles, trainingSuite } from './trainingSuite';

beforeAll(async () => {
  expect(await initBackend('cpu')).toBe('cpu');
  expect(tf.getBackend()).toBe('cpu');
});

trainingSuite('cpu', { steps: 40 });

describe('replay from the model\'s confident predictions', () => {
  it('confidentLabels keeps the argmax where it is confident and ignores the rest', () => {
    const probs = Float32Array.from([0.95, 0.05, 0.4, 0.6, 0.02, 0.98, 0.5, 0.5]);
    expect(Array.from(confidentLabels(probs, 2, 0.9))).toEqual([0, IGNORE_LABEL, 1, IGNORE_LABEL]);
    expect(Array.from(confidentLabels(probs, 2, 0.5))).toEqual([0, 1, 1, 0]);
  });

  it('pseudoLabelReplay labels patches with the deterministic prediction and frees its tensors', async () => {
    const files = await tinyFiles(8);
    const model = await loadSegmentationModel(filesHandler(files));
    const patches = redPatches(2, 8).map(({ id, patchSize, image }) => ({ id, patchSize, image }));
    const before = tf.memory().numTensors;
    const replay = await pseudoLabelReplay(model, patches, { minConfidence: 0 });
    const loose = await pseudoLabelReplay(model, patches, { minConfidence: 0.999999 });
    expect(tf.memory().numTensors).toBe(before);
    const x = tf.tensor4d(Float32Array.from(patches[0].image.filter((_, i) => i % 4 !== 3), v => (v / 255 - 0.5) / 0.25), [1, 8, 8, 3]);
    const expected = tf.tidy(() => (tf.argMax(model.layersModel.predict(x) as tf.Tensor, -1) as tf.Tensor).dataSync());
    x.dispose();
    expect(Array.from(replay[0].mask)).toEqual(Array.from(expected));
    expect(replay[0].id).toBe('p0');
    // A near-impossible threshold ignores (almost) everything.
    expect(loose[0].mask.filter(v => v === IGNORE_LABEL).length).toBeGreaterThan(32);
    model.dispose();
  });
});
