/**
 * The engine's behaviour tests, run once per backend (each backend in its own
 * spec file so jest gives it its own process).
 */
import * as tf from '@tensorflow/tfjs';
import { McDropout } from '../mcdropout';
import { ModelError, SegmentationModel, loadSegmentationModel, parseMetadata } from '../model';
import { compileSteps, countReaders, planGraph } from '../graph';
import { mapsFromSamples } from '../../uncertainty/maps';
import { memoryFetch, metadataFor, normalisedEntropy, randomPatches, saveModel, tinyUnet } from './helpers';

export interface SuiteOptions {
  /** Patch side of the test models. */
  size: number;
  /** MC samples for the distribution test (statistical power vs. time). */
  distributionSamples: number;
  /** Skip the heavier tests (slow software backends). */
  quick?: boolean;
}

function segModel(model: tf.LayersModel, size: number, extra: Record<string, unknown> = {}): SegmentationModel {
  return new SegmentationModel(model, parseMetadata(metadataFor(size, model.outputs[0].shape[3] as number, extra)));
}

/** model.predict on the same normalised input as the engine. */
async function predictProbs(model: SegmentationModel, patches: ReturnType<typeof randomPatches>): Promise<Float32Array[]> {
  const { scale, mean, std } = model.metadata.normalization;
  const out: Float32Array[] = [];
  for (const p of patches) {
    const x = new Float32Array(p.width * p.height * 3);
    for (let i = 0; i < p.width * p.height; i++) {
      for (let c = 0; c < 3; c++) {
        x[i * 3 + c] = (p.data[i * 4 + c] * scale - mean[c]) / std[c];
      }
    }
    const y = tf.tidy(() => model.layersModel.predict(tf.tensor4d(x, [1, p.height, p.width, 3])) as tf.Tensor);
    // Async read: WebGPU in Node has no OffscreenCanvas for dataSync.
    out.push((await y.data()) as Float32Array);
    y.dispose();
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
  }
  return m;
}

export function engineSuite(backend: string, opts: SuiteOptions): void {
  const S = opts.size;

  describe(`McDropout on ${backend}`, () => {
    it('runs on the requested backend', () => {
      expect(tf.getBackend()).toBe(backend);
    });

    it('splits the graph at the first Dropout: encoder cached, decoder sampled', () => {
      const model = tinyUnet({ size: S });
      const plan = planGraph(model);
      const prefixNames = plan.prefix.map(n => n.outboundLayer.name);
      const suffixNames = plan.suffix.map(n => n.outboundLayer.name);
      expect(prefixNames).toEqual(expect.arrayContaining(['enc_conv', 'enc_bn', 'enc_relu', 'pool', 'mid_conv']));
      expect(suffixNames).toEqual(['mid_dropout', 'up', 'concat', 'dec_conv', 'dec_bn', 'dec_relu', 'dec_dropout', 'head']);
      // Frontier: the bottleneck conv output and the skip connection.
      expect(plan.frontier.map(t => t.sourceLayer.name).sort()).toEqual(['enc_relu', 'mid_conv']);
      const late = planGraph(tinyUnet({ size: S, dropoutAt: 'decoder' }));
      expect(late.suffix.map(n => n.outboundLayer.name)).toEqual(['dec_dropout', 'head']);
      const naive = planGraph(model, false);
      expect(naive.prefix).toHaveLength(0);
      model.dispose();
    });

    it('folds Conv2D+BatchNormalization+ReLU into fused convs with the same results', async () => {
      const model = segModel(tinyUnet({ size: S }), S);
      const plan = planGraph(model.layersModel);
      const readers = countReaders(model.layersModel, plan);
      const prefix = compileSteps(tf, plan.prefix, readers);
      const suffix = compileSteps(tf, plan.suffix, readers);
      expect(prefix.steps.map(s => s.name)).toContain('enc_conv+enc_bn+enc_relu');
      expect(suffix.steps.map(s => s.name)).toContain('dec_conv+dec_bn+dec_relu');
      prefix.dispose();
      suffix.dispose();
      const patches = randomPatches(2, S, 4);
      const fused = await new McDropout(model, { samples: 3, seed: 8 }).run(patches);
      const plain = await new McDropout(model, { samples: 3, seed: 8, fuseBatchNorm: false }).run(patches);
      fused.forEach((m, i) => expect(maxAbsDiff(m.meanProb, plain[i].meanProb)).toBeLessThan(1e-5));
      model.dispose();
    });

    it('with dropout rate 0, cached and naive MC both equal model.predict (BN in inference mode)', async () => {
      const model = segModel(tinyUnet({ size: S, dropoutRate: 0 }), S);
      // rate 0 means no active dropout: the model reports it and T collapses to 1.
      expect(model.hasDropout).toBe(false);
      const patches = randomPatches(3, S);
      const expected = await predictProbs(model, patches);
      for (const cachePrefix of [true, false]) {
        const maps = await new McDropout(model, { samples: 5, cachePrefix }).run(patches);
        maps.forEach((m, i) => {
          expect(maxAbsDiff(m.meanProb, expected[i])).toBeLessThan(1e-5);
          expect(maxAbsDiff(m.entropy, normalisedEntropy(expected[i], 2))).toBeLessThan(1e-4);
          expect(Math.max(...m.mutualInformation)).toBe(0);
          expect(Math.max(...m.std)).toBe(0);
        });
      }
      // Sensitivity check: BatchNormalization in training mode gives other numbers,
      // so the equality above does prove inference-mode BN.
      const trainingMode = tf.tidy(() => {
        const x = tf.randomNormal([3, S, S, 3], 0, 1, 'float32', 3);
        const a = model.layersModel.apply(x, { training: true }) as tf.Tensor;
        const b = model.layersModel.predict(x) as tf.Tensor;
        return tf.max(tf.abs(tf.sub(a, b)));
      });
      expect((await trainingMode.data())[0]).toBeGreaterThan(1e-3);
      trainingMode.dispose();
      model.dispose();
    });

    it('with a tiny dropout rate, samples equal model.predict up to the dropped units (BN still in inference mode)', async () => {
      // Dropout active (so the MC path runs) but rate 1e-7: almost never drops.
      const model = segModel(tinyUnet({ size: S, dropoutRate: 1e-7 }), S);
      expect(model.hasDropout).toBe(true);
      const patches = randomPatches(2, S, 11);
      const expected = await predictProbs(model, patches);
      for (const cachePrefix of [true, false]) {
        const maps = await new McDropout(model, { samples: 4, cachePrefix, seed: 1 }).run(patches);
        maps.forEach((m, i) => expect(maxAbsDiff(m.meanProb, expected[i])).toBeLessThan(1e-4));
      }
      model.dispose();
    });

    it('prefix caching follows the distribution of naive MC (means and stds), and the test detects a wrong rate', async () => {
      const T = opts.distributionSamples;
      const patch = randomPatches(1, S, 5);
      const model = segModel(tinyUnet({ size: S, dropoutRate: 0.5 }), S);
      const cached = (await new McDropout(model, { samples: T, seed: 10 }).run(patch))[0];
      const naive = (await new McDropout(model, { samples: T, seed: 20, cachePrefix: false }).run(patch))[0];
      expect(cached.samples).toBe(T);
      // z-scores of the difference of two independent MC means of the same distribution.
      const zScores = (a: typeof cached, b: typeof cached) => {
        const z: number[] = [];
        for (let i = 0; i < a.meanProb.length; i++) {
          const se = Math.sqrt((a.std[i] ** 2 + b.std[i] ** 2) / T);
          if (se > 1e-4) {
            z.push((a.meanProb[i] - b.meanProb[i]) / se);
          }
        }
        return z;
      };
      const z = zScores(cached, naive);
      expect(z.length).toBeGreaterThan(cached.meanProb.length / 2);
      const meanSquare = z.reduce((s, v) => s + v * v, 0) / z.length;
      // Same distribution: z ~ N(0,1) so E[z^2] = 1 (loose bounds, pixels are correlated).
      expect(meanSquare).toBeGreaterThan(0.3);
      expect(meanSquare).toBeLessThan(2.5);
      expect(z.filter(v => Math.abs(v) > 5).length).toBeLessThanOrEqual(Math.ceil(z.length * 0.01));
      // Spreads agree too: total std of both within the sampling error of a std estimate.
      const stdRatio = (a: typeof cached, b: typeof cached) => a.std.reduce((x, v) => x + v, 0) / b.std.reduce((x, v) => x + v, 0);
      expect(Math.abs(stdRatio(cached, naive) - 1)).toBeLessThan(3 / Math.sqrt(T));
      // Negative control: the same statistic flags a different dropout rate.
      const other = segModel(tinyUnet({ size: S, dropoutRate: 0.1 }), S);
      const wrong = (await new McDropout(other, { samples: T, seed: 30, cachePrefix: false }).run(patch))[0];
      const zw = zScores(cached, wrong);
      const wrongMeanSquare = zw.reduce((s, v) => s + v * v, 0) / zw.length;
      const wrongStdRatio = stdRatio(cached, wrong);

      console.log(
        `distribution T=${T}: E[z^2]=${meanSquare.toFixed(3)} std ratio=${stdRatio(cached, naive).toFixed(3)}; wrong rate: E[z^2]=${wrongMeanSquare.toFixed(2)} std ratio=${wrongStdRatio.toFixed(3)}`
      );
      expect(wrongMeanSquare).toBeGreaterThan(4);
      expect(Math.abs(wrongStdRatio - 1)).toBeGreaterThan(3 / Math.sqrt(T));
      model.dispose();
      other.dispose();
    });

    it('maps equal the pure maths over the same samples (T=1 per run, same seeds)', async () => {
      // Each single-sample run is one dropout draw; the engine's T-sample maps
      // must match mapsFromSamples over the same draws.
      const model = segModel(tinyUnet({ size: S, dropoutRate: 0.5, dropoutAt: 'decoder' }), S);
      const patch = randomPatches(1, S, 9);
      const T = 6;
      const engine = new McDropout(model, { samples: T, seed: 42, maxBatch: 1 });
      const maps = (await engine.run(patch))[0];
      // Replay: same seed and one row per call gives the same mask sequence.
      const replay = new McDropout(model, { samples: 1, seed: 42, maxBatch: 1 });
      const draws: Float32Array[] = [];
      for (let t = 0; t < T; t++) {
        draws.push((await replay.run(patch))[0].meanProb);
      }
      const reference = mapsFromSamples(draws, S, S, 2);
      expect(maxAbsDiff(maps.meanProb, reference.meanProb)).toBeLessThan(1e-5);
      expect(maxAbsDiff(maps.entropy, reference.entropy)).toBeLessThan(1e-4);
      expect(maxAbsDiff(maps.mutualInformation, reference.mutualInformation)).toBeLessThan(1e-4);
      expect(maxAbsDiff(maps.std, reference.std)).toBeLessThan(1e-3);
      expect(Math.max(...maps.mutualInformation)).toBeGreaterThan(0);
      model.dispose();
    });

    // The JS path exists on CPU-memory backends only.
    (['wasm', 'cpu'].includes(backend) ? it : it.skip)(
      'JS dropout and head (wasm/cpu) give the numbers of the all-tensor path for the same masks',
      async () => {
        const patches = randomPatches(2, S, 13);
        for (const dropoutAt of ['bottleneck', 'decoder'] as const) {
          for (const extra of [{}, { output: 'logits' }]) {
            // 'logits': the head conv has no softmax and the engine applies it.
            const net = tinyUnet({ size: S, dropoutRate: 0.4, dropoutAt, headActivation: 'output' in extra ? 'linear' : 'softmax' });
            const model = segModel(net, S, extra);
            const engine = new McDropout(model, { samples: 7, seed: 5, maxBatch: 3 });
            expect(engine.tail !== null).toBe(true);
            expect(engine.tail!.dropoutRate).toBe(0.4);
            const fast = await engine.run(patches);
            const tensors = await new McDropout(model, { samples: 7, seed: 5, maxBatch: 3, hostKernels: false }).run(patches);
            fast.forEach((m, i) => {
              expect(maxAbsDiff(m.meanProb, tensors[i].meanProb)).toBeLessThan(1e-5);
              expect(maxAbsDiff(m.entropy, tensors[i].entropy)).toBeLessThan(1e-4);
              expect(maxAbsDiff(m.mutualInformation, tensors[i].mutualInformation)).toBeLessThan(1e-4);
              expect(maxAbsDiff(m.std, tensors[i].std)).toBeLessThan(1e-3);
            });
            // Different masks give different numbers: the comparison above can fail.
            const other = await new McDropout(model, { samples: 7, seed: 6, maxBatch: 3 }).run(patches);
            expect(maxAbsDiff(other[0].meanProb, fast[0].meanProb)).toBeGreaterThan(1e-4);
            model.dispose();
          }
        }
      }
    );

    it('is reproducible with a seed and different without', async () => {
      const model = segModel(tinyUnet({ size: S }), S);
      const patch = randomPatches(1, S);
      const a = (await new McDropout(model, { samples: 4, seed: 3 }).run(patch))[0];
      const b = (await new McDropout(model, { samples: 4, seed: 3 }).run(patch))[0];
      const c = (await new McDropout(model, { samples: 4, seed: 4 }).run(patch))[0];
      expect(maxAbsDiff(a.meanProb, b.meanProb)).toBe(0);
      expect(maxAbsDiff(a.meanProb, c.meanProb)).toBeGreaterThan(0);
      model.dispose();
    });

    it('a model without Dropout gives one pass: entropy of predict, MI 0, samples 1', async () => {
      const model = segModel(tinyUnet({ size: S, dropoutAt: 'none' }), S);
      expect(model.hasDropout).toBe(false);
      const engine = new McDropout(model, { samples: 20 });
      expect(engine.samples).toBe(1);
      const patches = randomPatches(2, S);
      const maps = await engine.run(patches);
      const expected = await predictProbs(model, patches);
      expect(maps[0].samples).toBe(1);
      expect(maxAbsDiff(maps[1].entropy, normalisedEntropy(expected[1], 2))).toBeLessThan(1e-4);
      expect(Math.max(...maps[1].mutualInformation)).toBe(0);
      model.dispose();
    });

    it('reports progress, batches samples, and accepts RGB patches', async () => {
      const model = segModel(tinyUnet({ size: S }), S);
      const rgba = randomPatches(3, S);
      const rgb = rgba.map(p => {
        const data = new Uint8Array(S * S * 3);
        for (let i = 0; i < S * S; i++) {
          data.set(p.data.subarray(i * 4, i * 4 + 3), i * 3);
        }
        return { width: S, height: S, channels: 3 as const, data };
      });
      const progress: [number, number][] = [];
      const engine = new McDropout(model, { samples: 5, maxBatch: 2, seed: 1 });
      const fromRgb = await engine.run(rgb, { onProgress: (d, t) => progress.push([d, t]) });
      expect(progress[progress.length - 1]).toEqual([15, 15]);
      expect(progress.length).toBe(9); // 3 patches x ceil(5 / 2) batches
      const fromRgba = await new McDropout(model, { samples: 5, maxBatch: 2, seed: 1 }).run(rgba);
      expect(maxAbsDiff(fromRgb[2].meanProb, fromRgba[2].meanProb)).toBe(0);
      await expect(engine.run([{ width: S + 1, height: S, channels: 3, data: new Uint8Array((S + 1) * S * 3) }])).rejects.toThrow(/takes/);
      model.dispose();
    });

    it('leaks no tensors across runs, cancels, and errors', async () => {
      const model = segModel(tinyUnet({ size: S }), S);
      const patches = randomPatches(3, S);
      const engine = new McDropout(model, { samples: 6, maxBatch: 2 });
      await engine.run(patches.slice(0, 1)); // warm-up: backends may cache kernels
      const before = tf.memory().numTensors;
      await engine.run(patches);
      expect(tf.memory().numTensors).toBe(before);
      const controller = new AbortController();
      const run = engine.run(patches, {
        signal: controller.signal,
        onProgress: done => {
          if (done >= 4) {
            controller.abort();
          }
        }
      });
      await expect(run).rejects.toMatchObject({ name: 'AbortError' });
      expect(tf.memory().numTensors).toBe(before);
      // Already aborted: rejects before any work.
      await expect(engine.run(patches, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });

    it('rejects NaN outputs with a ModelError and leaks nothing', async () => {
      const model = segModel(tinyUnet({ size: S }), S);
      const head = model.layersModel.getLayer('head');
      const [kernel, bias] = head.getWeights();
      head.setWeights([tf.fill(kernel.shape, NaN), bias]);
      const engine = new McDropout(model, { samples: 2 });
      const before = tf.memory().numTensors;
      const err = await engine.run(randomPatches(1, S)).catch(e => e);
      expect(err).toBeInstanceOf(ModelError);
      expect(err.kind).toBe('nan-output');
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });
  });

  if (opts.quick) {
    return;
  }

  describe(`loadSegmentationModel on ${backend}`, () => {
    async function files(model: tf.LayersModel, meta: Record<string, unknown> | null) {
      const saved = await saveModel(model, meta);
      model.dispose();
      return saved;
    }

    it('loads model.json + shard over fetch and reads the metadata', async () => {
      const saved = await files(tinyUnet({ size: S }), metadataFor(S));
      const model = await loadSegmentationModel('http://host/models/tiny/model.json', {
        fetchFunc: memoryFetch({ 'model.json': saved.modelJson, 'group1-shard1of1.bin': saved.shard })
      });
      expect(model.metadata.patchSize).toBe(S);
      expect(model.metadata.classes.map(c => c.name)).toEqual(['Background', 'Class1']);
      expect(model.metadata.normalization.std).toEqual([0.25, 0.25, 0.25]);
      expect(model.inputShape).toEqual([S, S, 3]);
      expect(model.hasDropout).toBe(true);
      const maps = await new McDropout(model, { samples: 2 }).run(randomPatches(1, S));
      expect(maps[0].meanProb.length).toBe(S * S * 2);
      model.dispose();
    });

    const cases: [string, () => Promise<Record<string, string | Uint8Array>>, string, RegExp][] = [
      [
        'wrong input shape',
        async () => {
          const s = await files(tinyUnet({ size: S, inputChannels: 1 }), metadataFor(S));
          return { 'model.json': s.modelJson, 'group1-shard1of1.bin': s.shard };
        },
        'invalid-input',
        /\[N, H, W, 3\]/
      ],
      [
        'classes disagreeing with metadata',
        async () => {
          const s = await files(tinyUnet({ size: S, classes: 3 }), metadataFor(S, 2));
          return { 'model.json': s.modelJson, 'group1-shard1of1.bin': s.shard };
        },
        'invalid-output',
        /outputs 3 classes but its metadata lists 2/
      ],
      [
        'patch size disagreeing with metadata',
        async () => {
          const s = await files(tinyUnet({ size: S }), metadataFor(S * 2));
          return { 'model.json': s.modelJson, 'group1-shard1of1.bin': s.shard };
        },
        'invalid-input',
        /patchSize/
      ],
      [
        'corrupt model.json',
        async () => {
          const s = await files(tinyUnet({ size: S }), metadataFor(S));
          return { 'model.json': s.modelJson.slice(0, s.modelJson.length / 2), 'group1-shard1of1.bin': s.shard };
        },
        'corrupt',
        /not valid JSON/
      ],
      [
        'missing weight shard',
        async () => {
          const s = await files(tinyUnet({ size: S }), metadataFor(S));
          return { 'model.json': s.modelJson };
        },
        'missing-weights',
        /group1-shard1of1\.bin.*HTTP 404/
      ],
      [
        'truncated weight shard',
        async () => {
          const s = await files(tinyUnet({ size: S }), metadataFor(S));
          return { 'model.json': s.modelJson, 'group1-shard1of1.bin': s.shard.slice(0, 100) };
        },
        'missing-weights',
        /shard is missing or truncated/
      ],
      [
        'no UGA metadata',
        async () => {
          const s = await files(tinyUnet({ size: S }), null);
          return { 'model.json': s.modelJson, 'group1-shard1of1.bin': s.shard };
        },
        'invalid-metadata',
        /userDefinedMetadata\.uga/
      ],
      ['missing model.json', async () => ({}), 'not-found', /not found/]
    ];
    for (const [name, make, kind, message] of cases) {
      it(`rejects a model with ${name}`, async () => {
        const before = tf.memory().numTensors;
        const err = await loadSegmentationModel('http://host/m/model.json', { fetchFunc: memoryFetch(await make()) }).catch(e => e);
        expect(err).toBeInstanceOf(ModelError);
        expect(err.kind).toBe(kind);
        expect(err.message).toMatch(message);
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  });
}
