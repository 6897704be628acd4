/**
 * One tfjs fine-tuning run for bench/finetune/bench.py: reads raw corrections
 * (images uint8 [N,S,S,3], masks uint8 [N,S,S]) and writes the new model's
 * files to --out; prints one JSON line with the timings.
 *
 *   npx tsx bench/finetune/tfjs_side.ts --backend cpu|webgpu --data DIR --out DIR --steps N --batch B --crop C --lr LR
 */
import * as fs from 'fs';
import * as path from 'path';

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) {
    if (fallback === undefined) {
      throw new Error(`missing --${name}`);
    }
    return fallback;
  }
  return process.argv[i + 1];
}

async function main(): Promise<void> {
  const backend = arg('backend', 'cpu');
  if (backend === 'webgpu') {
    const { installNodeWebGPU } = await import('../../src/engine/__tests__/webgpuNode');
    installNodeWebGPU();
  }
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('../../src/engine/backends');
  const { fineTune } = await import('../../src/training/finetune');
  const got = await initBackend(backend as 'cpu' | 'webgpu');
  const data = arg('data');
  const meta = JSON.parse(fs.readFileSync(path.join(data, 'meta.json'), 'utf8')) as { n: number; size: number; ids: string[] };
  const images = fs.readFileSync(path.join(data, 'images.u8'));
  const masks = fs.readFileSync(path.join(data, 'masks.u8'));
  const px = meta.size * meta.size;
  const patches = meta.ids.map((id, i) => ({
    id,
    patchSize: meta.size,
    image: new Uint8Array(images.subarray(i * px * 3, (i + 1) * px * 3)),
    mask: new Uint8Array(masks.subarray(i * px, (i + 1) * px))
  }));
  const modelDir = arg('model');
  const modelJson = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const shard = fs.readFileSync(path.join(modelDir, modelJson.weightsManifest[0].paths[0]));
  const parent = { modelJson, weightData: shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength) as ArrayBuffer };
  const steps = Number(arg('steps'));
  const stepTimes: number[] = [];
  let last = Date.now();
  const t0 = Date.now();
  const result = await fineTune({
    parent,
    patches,
    version: '1',
    settings: {
      steps,
      batchSize: Number(arg('batch')),
      crop: Number(arg('crop')),
      lr: Number(arg('lr')),
      seed: Number(arg('seed', '0')),
      batchNorm: arg('bn', 'frozen') as 'frozen' | 'update'
    },
    onProgress: () => {
      const now = Date.now();
      stepTimes.push((now - last) / 1000);
      last = now;
    }
  });
  const seconds = (Date.now() - t0) / 1000;
  const out = arg('out');
  fs.mkdirSync(out, { recursive: true });
  for (const [name, bytes] of Object.entries(result.files)) {
    fs.writeFileSync(path.join(out, name), bytes);
  }
  console.log(JSON.stringify({ backend: got, tfjs: tf.version.tfjs, seconds, stepTimes, losses: result.losses, hash: result.hash }));
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
