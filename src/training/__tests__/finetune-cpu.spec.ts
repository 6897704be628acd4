import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../engine/backends';
import { loadSegmentationModel } from '../../engine/model';
import { IGNORE_LABEL } from '../../tokens';
import { confidentLabels, filesHandler, fineTune, modelsEntry, pseudoLabelReplay } from '../finetune';
import { redPatches, tinyFiles, trainingSuite } from './trainingSuite';

beforeAll(async () => {
  expect(await initBackend('cpu')).toBe('cpu');
  expect(tf.getBackend()).toBe('cpu');
});

trainingSuite('cpu', { steps: 40 });

describe("replay from the model's confident predictions", () => {
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
    const x = tf.tensor4d(
      Float32Array.from(
        patches[0].image.filter((_, i) => i % 4 !== 3),
        v => (v / 255 - 0.5) / 0.25
      ),
      [1, 8, 8, 3]
    );
    const expected = tf.tidy(() => (tf.argMax(model.layersModel.predict(x) as tf.Tensor, -1) as tf.Tensor).dataSync());
    x.dispose();
    expect(Array.from(replay[0].mask)).toEqual(Array.from(expected));
    expect(replay[0].id).toBe('p0');
    // A near-impossible threshold ignores (almost) everything.
    expect(loose[0].mask.filter(v => v === IGNORE_LABEL).length).toBeGreaterThan(32);
    model.dispose();
  });
});

it("batchNorm 'update' uses batch statistics and moves the moving statistics like torch (momentum 0.1)", async () => {
  const parent = await tinyFiles(8);
  const before = tf.memory().numTensors;
  const result = await fineTune({
    parent,
    patches: redPatches(3, 8),
    version: '6',
    settings: { steps: 2, batchSize: 2, crop: null, batchNorm: 'update' }
  });
  expect(tf.memory().numTensors).toBe(before);
  const read = async (files: Parameters<typeof filesHandler>[0]) => {
    const a = await filesHandler(files).load!();
    const data = new Float32Array(a.weightData as ArrayBuffer);
    const out = new Map<string, number[]>();
    let o = 0;
    for (const s of a.weightSpecs!) {
      const n = s.shape.reduce((x, y) => x * y, 1);
      out.set(s.name, Array.from(data.slice(o, o + n)));
      o += n;
    }
    return out;
  };
  const w0 = await read(parent);
  const w1 = await read(result.files);
  expect(w1.get('enc_bn/moving_mean')).not.toEqual(w0.get('enc_bn/moving_mean'));
  // Two steps of momentum 0.1: at most 19% of the way from the old value to the batch statistics.
  const v0 = w0.get('enc_bn/moving_variance')!;
  const v1 = w1.get('enc_bn/moving_variance')!;
  v1.forEach((v, i) => expect(v).toBeGreaterThan(0.81 * v0[i] - 1e-6));
  expect(result.metadata.finetune).toMatchObject({ batchNorm: 'update', freezeBn: false });
  expect(modelsEntry(result, '6', null).settings.freeze_bn).toBe(false);
});
