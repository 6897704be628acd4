/**
 * Fine-tuning behaviour, run per backend (cpu, and WebGPU on SwiftShader).
 * Tiny U-Nets from the engine's fixtures; the backend is set by the caller.
 */
import * as tf from '@tensorflow/tfjs';
import { metadataFor, randomPatches, saveModel, tinyUnet } from '../../engine/__tests__/helpers';
import { loadSegmentationModel } from '../../engine/model';
import { IGNORE_LABEL } from '../../tokens';
import {
  FineTuneError,
  ModelFiles,
  ModelJSON,
  TrainingPatch,
  filesHandler,
  fineTune,
  modelsEntry,
  sha256Of,
  trainingForward
} from '../finetune';

export async function tinyFiles(
  size: number,
  extra: Record<string, unknown> = {},
  dropoutAt: 'bottleneck' | 'decoder' | 'none' = 'decoder'
): Promise<ModelFiles> {
  const model = tinyUnet({ size, dropoutAt, dropoutRate: 0.3 });
  const saved = await saveModel(model, metadataFor(size, 2, extra));
  model.dispose();
  const modelJson = JSON.parse(saved.modelJson) as ModelJSON;
  return { modelJson, weightData: saved.shard.slice().buffer as ArrayBuffer };
}

/** Learnable patches: label 1 where the red channel is high. */
export function redPatches(n: number, size: number, seed = 3): TrainingPatch[] {
  return randomPatches(n, size, seed).map((p, i) => {
    const mask = new Uint8Array(size * size);
    for (let j = 0; j < size * size; j++) {
      mask[j] = p.data[j * 4] > 180 ? 1 : 0;
    }
    return { id: `p${i}`, patchSize: size, image: p.data, mask };
  });
}

function weightsByName(files: Record<string, Uint8Array> | ModelFiles): Map<string, Float32Array> {
  const h = filesHandler(files);
  return (h.load!() as Promise<tf.io.ModelArtifacts>).then(a => {
    const data = new Float32Array(a.weightData as ArrayBuffer);
    const out = new Map<string, Float32Array>();
    let o = 0;
    for (const s of a.weightSpecs!) {
      const n = s.shape.reduce((x, y) => x * y, 1);
      out.set(s.name, data.slice(o, o + n));
      o += n;
    }
    return out;
  }) as unknown as Map<string, Float32Array>;
}

export function trainingSuite(backend: string, opts: { steps: number }): void {
  const size = 8;

  it(`runs on ${backend}, lowers the loss, and leaves no tensor behind`, async () => {
    expect(tf.getBackend()).toBe(backend);
    const parent = await tinyFiles(size);
    const patches = redPatches(6, size);
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const result = await fineTune({
      parent,
      patches,
      version: '1',
      parentHash: 'sha256:' + '0'.repeat(64),
      settings: { steps: opts.steps, lr: 0.02, batchSize: 4, flips: true, crop: null, batchNorm: 'frozen' },
      onProgress: p => progress.push(p.step)
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.backend).toBe(backend);
    expect(progress).toEqual(Array.from({ length: opts.steps }, (_, i) => i + 1));
    const k = Math.max(1, Math.floor(opts.steps / 4));
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(result.losses.slice(-k))).toBeLessThan(mean(result.losses.slice(0, k)));
    // The bytes load back through the engine, with the metadata updated.
    const loaded = await loadSegmentationModel(filesHandler(result.files));
    expect(loaded.metadata.version).toBe('1+ft1');
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const json = JSON.parse(new TextDecoder().decode(result.files['model.json']));
    expect(json.userDefinedMetadata.uga.parentModelHash).toBe('sha256:' + '0'.repeat(64));
    expect(json.userDefinedMetadata.uga.finetune).toMatchObject({ steps: opts.steps, patches: 6, patchIds: patches.map(p => p.id) });
    // Parent topology and weight order kept; BN moving statistics frozen, trainable weights changed.
    expect(json.modelTopology).toEqual(parent.modelJson.modelTopology);
    expect(json.weightsManifest[0].weights).toEqual(parent.modelJson.weightsManifest.flatMap(g => g.weights));
    const w0 = await weightsByName(parent);
    const w1 = await weightsByName(result.files);
    for (const [name, v] of w0) {
      const changed = v.some((x, i) => Math.abs(x - w1.get(name)![i]) > 1e-7);
      expect([name, changed]).toEqual([name, !/moving_(mean|variance)/.test(name)]);
    }
    expect(result.hash).toBe(await sha256Of([result.files['model.json'], result.files['group1-shard1of1.bin']]));
    const entry = modelsEntry(result, '1', 'sha256:abc', {
      dice: { before: { perClass: { Background: 0.5, Class1: 0.7 }, mean: 0.6, pixels: 10 } }
    });
    expect(entry).toMatchObject({
      version: '1',
      path: 'models/1',
      hash: result.hash,
      parentHash: 'sha256:abc',
      patches: ['p0', 'p1', 'p2', 'p3', 'p4', 'p5']
    });
    expect(entry.settings).toMatchObject({ steps: opts.steps, lr: 0.02, freeze_bn: true });
    expect(entry.dice?.before?.mean).toBe(0.6);
  });

  it('trains nothing on ignored pixels: an all-ignore mask leaves the weights as they were', async () => {
    const parent = await tinyFiles(size);
    const patches = redPatches(2, size).map(p => ({ ...p, mask: new Uint8Array(size * size).fill(IGNORE_LABEL) }));
    const result = await fineTune({
      parent,
      patches,
      version: '2',
      settings: { steps: 2, lr: 0.05, weightDecay: 0, batchSize: 2, crop: null, batchNorm: 'frozen' }
    });
    const w0 = await weightsByName(parent);
    const w1 = await weightsByName(result.files);
    for (const [name, v] of w0) {
      expect([name, Array.from(w1.get(name)!)]).toEqual([name, Array.from(v)]);
    }
    // The same patches with labels do move them.
    const labelled = await fineTune({
      parent,
      patches: redPatches(2, size),
      version: '2',
      settings: { steps: 2, lr: 0.05, weightDecay: 0, batchSize: 2, crop: null, batchNorm: 'frozen' }
    });
    const w2 = await weightsByName(labelled.files);
    expect(Array.from(w2.get('head/kernel')!)).not.toEqual(Array.from(w0.get('head/kernel')!));
  });

  it('mixes replay patches into the batch', async () => {
    const parent = await tinyFiles(size);
    // Replay only: corrections all ignore, so any weight change comes from replay rows.
    const ignored = redPatches(1, size).map(p => ({ ...p, mask: new Uint8Array(size * size).fill(IGNORE_LABEL) }));
    const result = await fineTune({
      parent,
      patches: ignored,
      replay: redPatches(3, size, 9),
      version: '3',
      settings: { steps: 2, lr: 0.05, weightDecay: 0, batchSize: 4, replayRatio: 0.5, crop: null, batchNorm: 'frozen' }
    });
    const w0 = await weightsByName(parent);
    const w1 = await weightsByName(result.files);
    expect(Array.from(w1.get('head/kernel')!)).not.toEqual(Array.from(w0.get('head/kernel')!));
    expect(result.metadata.finetune).toMatchObject({ replayPatches: 3 });
  });

  it('cancels between steps with an AbortError and frees everything', async () => {
    const parent = await tinyFiles(size);
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const steps: number[] = [];
    await expect(
      fineTune({
        parent,
        patches: redPatches(2, size),
        version: '4',
        signal: controller.signal,
        settings: { steps: 50, batchSize: 2, crop: null },
        onProgress: p => {
          steps.push(p.step);
          if (p.step === 2) {
            controller.abort();
          }
        }
      })
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(steps).toEqual([1, 2]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('drops out in training but keeps BatchNorm in inference mode', async () => {
    const before = tf.memory().numTensors;
    const model = await loadSegmentationModel(filesHandler(await tinyFiles(size)));
    const plain = await loadSegmentationModel(filesHandler(await tinyFiles(size, {}, 'none')));
    let seed = 1;
    const gaps = tf.tidy(() => {
      const x = tf.randomNormal([2, size, size, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      const a = trainingForward(tf, model, x, () => seed++);
      const b = trainingForward(tf, model, x, () => seed++);
      // Without dropout the training pass equals inference: BN uses its moving statistics.
      const logits = trainingForward(tf, plain, x, () => 0);
      const probs = plain.layersModel.predict(x) as tf.Tensor;
      return tf.stack([tf.max(tf.abs(tf.sub(a, b))), tf.max(tf.abs(tf.sub(tf.softmax(logits), probs)))]);
    });
    const [dropoutSpread, inferenceGap] = Array.from(await gaps.data());
    gaps.dispose();
    expect(dropoutSpread).toBeGreaterThan(1e-4);
    expect(inferenceGap).toBeLessThan(1e-5);
    model.dispose();
    plain.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses bad input with a message for the user', async () => {
    const parent = await tinyFiles(size);
    await expect(fineTune({ parent, patches: [], version: '5' })).rejects.toThrow(/no corrected patches/);
    const bad = redPatches(1, size);
    bad[0].mask[0] = 7;
    await expect(fineTune({ parent, patches: bad, version: '5' })).rejects.toThrow(FineTuneError);
    await expect(fineTune({ parent, patches: bad, version: '5' })).rejects.toThrow(/mask value 7/);
    await expect(fineTune({ parent, patches: redPatches(1, 4), version: '5' })).rejects.toThrow(/smaller than the model input/);
    await expect(fineTune({ parent, patches: redPatches(1, size), version: '../x' })).rejects.toThrow(/not a valid model version/);
  });
}
