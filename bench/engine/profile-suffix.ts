/**
 * Where the time of MC samples goes: per-step timing of the stochastic suffix
 * (fused steps, JS dropout masks), plus the on-device reduction.
 *   npx tsx bench/engine/profile-suffix.ts MODEL_DIR [rows=8] [backend=wasm]
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BackendName, initBackend } from '../../src/engine/backends';
import { compileSteps, countReaders } from '../../src/engine/graph';
import { McDropout } from '../../src/engine/mcdropout';
import { loadSegmentationModel } from '../../src/engine/model';

async function main(): Promise<void> {
  const dir = process.argv[2];
  const rows = Number(process.argv[3] ?? 8);
  await initBackend((process.argv[4] ?? 'wasm') as BackendName);
  const fetchFunc = (async (u: string) => new Response(fs.readFileSync(u.replace('file://', '')))) as unknown as typeof fetch;
  const model = await loadSegmentationModel(`file://${path.resolve(dir, 'model.json')}`, { fetchFunc });
  const size = model.inputShape[0];
  const plan = new McDropout(model).plan;
  const { steps, dispose } = compileSteps(tf, plan.suffix, countReaders(model.layersModel, plan));
  const values = new Map<number, tf.Tensor>();
  for (const t of plan.frontier) {
    values.set(t.id, tf.randomNormal([rows, ...t.shape.slice(1).map(d => d ?? size)]));
  }
  let seed = 1;
  const random = { nextSeed: () => seed++ };
  for (let rep = 0; rep < 3; rep++) {
    const times: string[] = [];
    for (const step of steps) {
      const t0 = performance.now();
      const out = step.apply(
        tf,
        step.inputIds.map(id => values.get(id)!),
        true,
        random
      )[0];
      await out.data();
      times.push(`${step.name}=${(performance.now() - t0).toFixed(0)}ms`);
      values.set(step.outputIds[0], out);
    }
    const p = values.get(plan.outputId)!;
    const t0 = performance.now();
    const sums = tf.tidy(() => [tf.sum(p, 0), tf.sum(tf.square(p), 0), tf.neg(tf.sum(tf.mul(p, tf.log(tf.maximum(p, 1e-30))), [0, 3]))]);
    await Promise.all(sums.map(s => s.data()));
    times.push(`reduce=${(performance.now() - t0).toFixed(0)}ms`);
    console.log(times.join(' '));
  }
  dispose();
  const x = tf.randomNormal([rows, size, size, 3]);
  for (let rep = 0; rep < 2; rep++) {
    const t0 = performance.now();
    const y = model.layersModel.predict(x) as tf.Tensor;
    await y.data();
    console.log(`model.predict of ${rows}: ${(performance.now() - t0).toFixed(0)}ms`);
  }
}
main();
