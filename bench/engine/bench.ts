/**
 * Engine benchmark (run by bench/bench-engine.sh). One process, side by side:
 *
 * 1. main backend (wasm on CPU machines, --backend webgpu on a GPU machine),
 *    full-size patches, T samples:
 *      ours   = McDropout with prefix caching
 *      naive  = McDropout with cachePrefix=false (T full passes, dropout only)
 *      det    = one deterministic pass (model.predict)
 *    and the PyTorch naive-MC reference measured by torch_reference.py on the
 *    same patches and weights (read from --torch-json), and onnxruntime-web
 *    (WASM) on the same weights exported to ONNX by onnx_export.py, naive and
 *    with the same prefix/suffix split (ort.ts);
 * 2. every available backend on a tiny input (same weights, model input
 *    resized): wasm, cpu, webgpu (SwiftShader when no GPU).
 *
 * Prints a table, ratios, and a final `key=value ...` line.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import * as tf from '@tensorflow/tfjs';
import { BackendName, initBackend } from '../../src/engine/backends';
import { McDropout, PatchPixels } from '../../src/engine/mcdropout';
import { SegmentationModel, loadSegmentationModel } from '../../src/engine/model';
import { OrtContenders, exportOnnx } from './ort';

interface Args {
  model: string;
  images: string[];
  samples: number;
  backend: BackendName;
  backends: BackendName[];
  tinySize: number;
  tinyPatches: number;
  torchJson?: string;
  torchProbs?: string;
  /** Python with torch: the PyTorch contenders run inside the timing loop (one process per round). */
  python?: string;
  torchThreads: number;
  maxBatch?: number;
  repeats: number;
  /** Also measure the same weights with only the last Dropout active (the cheapest late placement). */
  lastDropoutOnly: boolean;
  /** Folder for the ONNX export (onnxruntime-web contenders need --python with torch and onnx). */
  onnxDir?: string;
  /** onnxruntime-web WASM threads (1 = like tfjs WASM here: no cross-origin isolation). */
  ortThreads: number;
  noOrt: boolean;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const images: string[] = [];
  const i = argv.indexOf('--images');
  if (i >= 0) {
    for (let k = i + 1; k < argv.length && !argv[k].startsWith('--'); k++) {
      images.push(argv[k]);
    }
  }
  return {
    model: get('model') ?? 'jupyterlab_uga/default_model',
    images,
    samples: Number(get('samples') ?? 20),
    backend: (get('backend') ?? 'wasm') as BackendName,
    backends: (get('backends') ?? 'wasm,cpu,webgpu').split(',').filter(Boolean) as BackendName[],
    tinySize: Number(get('tiny-size') ?? 32),
    tinyPatches: Number(get('tiny-patches') ?? 1),
    torchJson: get('torch-json'),
    torchProbs: get('torch-probs'),
    python: get('python'),
    torchThreads: Number(get('torch-threads') ?? 0),
    maxBatch: get('max-batch') ? Number(get('max-batch')) : undefined,
    repeats: Number(get('repeats') ?? 2),
    lastDropoutOnly: argv.includes('--last-dropout-only'),
    onnxDir: get('onnx-dir'),
    ortThreads: Number(get('ort-threads') ?? 1),
    noOrt: argv.includes('--no-ort')
  };
}

/** fetch over the local file system, for tf.io.http-style loading. */
const fileFetch = (async (input: RequestInfo | URL) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const file = url.replace(/^file:\/\//, '');
  if (!fs.existsSync(file)) {
    return new Response('not found', { status: 404 });
  }
  return new Response(fs.readFileSync(file));
}) as typeof fetch;

async function loadModel(dir: string, tinySize?: number, lastDropoutOnly = false): Promise<SegmentationModel> {
  const url = `file://${path.resolve(dir, 'model.json')}`;
  if (!tinySize && !lastDropoutOnly) {
    return loadSegmentationModel(url, { fetchFunc: fileFetch });
  }
  const json = JSON.parse(fs.readFileSync(path.resolve(dir, 'model.json'), 'utf8'));
  const layers = json.modelTopology.config.layers as { class_name: string; config: { batch_input_shape?: unknown; rate?: number } }[];
  if (tinySize) {
    // Same weights, smaller fixed input: rewrite the input shape and patchSize.
    for (const layer of layers) {
      if (layer.class_name === 'InputLayer') {
        layer.config.batch_input_shape = [null, tinySize, tinySize, 3];
      }
    }
    json.userDefinedMetadata.uga.patchSize = tinySize;
  }
  if (lastDropoutOnly) {
    // Rate 0 makes a Dropout inactive, so the engine moves it into the cached prefix.
    const dropouts = layers.filter(l => l.class_name === 'Dropout');
    dropouts.slice(0, -1).forEach(l => (l.config.rate = 0));
  }
  const tinyFetch = (async (input: RequestInfo | URL) => {
    const u = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return u.endsWith('model.json') ? new Response(JSON.stringify(json)) : fileFetch(input);
  }) as typeof fetch;
  return loadSegmentationModel(url, { fetchFunc: tinyFetch });
}

function readPng(file: string): PatchPixels {
  const png = PNG.sync.read(fs.readFileSync(file));
  return { width: png.width, height: png.height, channels: 4, data: new Uint8Array(png.data) };
}

function crop(p: PatchPixels, size: number): PatchPixels {
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    data.set(p.data.subarray(y * p.width * 4, y * p.width * 4 + size * 4), y * size * 4);
  }
  return { width: size, height: size, channels: 4, data };
}

async function deterministicPass(model: SegmentationModel, patches: PatchPixels[]): Promise<Float32Array> {
  const engine = new McDropout(model, { samples: 1, cachePrefix: false });
  // samples=1 still draws one dropout mask; a true deterministic pass is predict:
  const [h, w] = model.inputShape;
  const { scale, mean, std } = model.metadata.normalization;
  const x = new Float32Array(patches.length * h * w * 3);
  patches.forEach((p, n) => {
    for (let i = 0; i < h * w; i++) {
      for (let c = 0; c < 3; c++) {
        x[(n * h * w + i) * 3 + c] = (p.data[i * p.channels + c] * scale - mean[c]) / std[c];
      }
    }
  });
  engine.dispose();
  const input = tf.tensor4d(x, [patches.length, h, w, 3]);
  const out = model.layersModel.predict(input) as tf.Tensor;
  const data = (await out.data()) as Float32Array;
  input.dispose();
  out.dispose();
  return data;
}

interface Row {
  backend: string;
  size: number;
  patches: number;
  ours_s: number;
  naive_s: number;
  det_s: number;
}

/**
 * Times ours, naive and one deterministic pass, interleaved and best-of-N:
 * the machine is shared, and interleaving keeps load changes from favouring
 * one method.
 */
interface TorchRound {
  naive_mc_s: number;
  cached_mc_s: number;
  deterministic_s: number;
  naive_mc_cpu_s: number;
  cached_mc_cpu_s: number;
  deterministic_cpu_s: number;
  threads: number;
  torch: string;
}

/** One PyTorch round (naive MC, cached MC, one pass) on the same patches and weights. */
function torchRound(args: Args): TorchRound | null {
  if (!args.python || !args.torchJson || !args.torchProbs) {
    return null;
  }
  const r = spawnSync(
    args.python,
    [
      'bench/engine/torch_reference.py',
      '--model',
      args.model,
      '--images',
      ...args.images,
      '--samples',
      String(args.samples),
      '--threads',
      String(args.torchThreads),
      '--repeats',
      '1',
      '--out',
      args.torchJson,
      '--probs',
      args.torchProbs
    ],
    { encoding: 'utf8', env: { ...process.env, PYTHONPATH: process.cwd() } }
  );
  if (r.status !== 0) {
    console.log(`PyTorch round failed: ${(r.stderr || r.stdout).slice(-400)}`);
    return null;
  }
  return JSON.parse(fs.readFileSync(args.torchJson, 'utf8'));
}

async function measure(
  backend: BackendName,
  model: SegmentationModel,
  patches: PatchPixels[],
  args: Args,
  withTorch = false,
  onnx: OrtContenders | null = null
): Promise<Row & { torch: TorchRound | null; cpu: { ours: number; naive: number; det: number }; ort: OrtTimes | null }> {
  const ours = new McDropout(model, { samples: args.samples, seed: 1, maxBatch: args.maxBatch });
  const naive = new McDropout(model, { samples: args.samples, seed: 1, maxBatch: args.maxBatch, cachePrefix: false });
  // Warm-up: kernel compilation, allocations.
  await ours.run(patches.slice(0, 1));
  await naive.run(patches.slice(0, 1));
  await deterministicPass(model, patches.slice(0, 1));
  if (onnx) {
    await onnx.naive(patches.slice(0, 1), 2);
    await onnx.cached(patches.slice(0, 1), 2);
    await onnx.deterministic(patches.slice(0, 1));
  }
  const ortBest: OrtTimes = { naive: Infinity, cached: Infinity, det: Infinity, naiveCpu: Infinity, cachedCpu: Infinity, detCpu: Infinity };
  const before = tf.memory().numTensors;
  const best = { ours: Infinity, naive: Infinity, det: Infinity };
  // CPU seconds too: on a shared machine wall time includes waiting for a core
  // (tfjs in Node computes on this one thread, so CPU time is its compute time).
  const cpu = { ours: Infinity, naive: Infinity, det: Infinity };
  let lastCpu = 0;
  const time = async (fn: () => Promise<unknown>) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const c = process.cpuUsage(c0);
    lastCpu = (c.user + c.system) / 1e6;
    return (performance.now() - t0) / 1000;
  };
  let torch: TorchRound | null = null;
  for (let r = 0; r < args.repeats; r++) {
    // All contenders in one loop, PyTorch included, so load changes hit them alike.
    const t = withTorch ? torchRound(args) : null;
    if (t) {
      torch = torch
        ? {
            ...t,
            naive_mc_s: Math.min(torch.naive_mc_s, t.naive_mc_s),
            cached_mc_s: Math.min(torch.cached_mc_s, t.cached_mc_s),
            deterministic_s: Math.min(torch.deterministic_s, t.deterministic_s),
            naive_mc_cpu_s: Math.min(torch.naive_mc_cpu_s, t.naive_mc_cpu_s),
            cached_mc_cpu_s: Math.min(torch.cached_mc_cpu_s, t.cached_mc_cpu_s),
            deterministic_cpu_s: Math.min(torch.deterministic_cpu_s, t.deterministic_cpu_s)
          }
        : t;
    }
    best.ours = Math.min(best.ours, await time(() => ours.run(patches)));
    cpu.ours = Math.min(cpu.ours, lastCpu);
    best.naive = Math.min(best.naive, await time(() => naive.run(patches)));
    cpu.naive = Math.min(cpu.naive, lastCpu);
    best.det = Math.min(best.det, await time(() => deterministicPass(model, patches)));
    cpu.det = Math.min(cpu.det, lastCpu);
    if (onnx) {
      ortBest.naive = Math.min(ortBest.naive, await time(() => onnx.naive(patches, args.samples)));
      ortBest.naiveCpu = Math.min(ortBest.naiveCpu, lastCpu);
      ortBest.cached = Math.min(ortBest.cached, await time(() => onnx.cached(patches, args.samples)));
      ortBest.cachedCpu = Math.min(ortBest.cachedCpu, lastCpu);
      ortBest.det = Math.min(ortBest.det, await time(() => onnx.deterministic(patches)));
      ortBest.detCpu = Math.min(ortBest.detCpu, lastCpu);
    }
  }
  if (tf.memory().numTensors !== before) {
    throw new Error(`tensor leak on ${backend}: ${before} -> ${tf.memory().numTensors}`);
  }
  return {
    backend,
    size: model.inputShape[0],
    patches: patches.length,
    ours_s: best.ours,
    naive_s: best.naive,
    det_s: best.det,
    torch,
    cpu,
    ort: onnx ? ortBest : null
  };
}

/** Best wall and CPU seconds of the onnxruntime-web contenders. */
interface OrtTimes {
  naive: number;
  cached: number;
  det: number;
  naiveCpu: number;
  cachedCpu: number;
  detCpu: number;
}

/** Multiply-adds per patch of the prefix (once) and suffix (per sample), from the conv layers. */
function countMacs(model: SegmentationModel): { prefix: number; suffix: number; total: number } {
  const plan = new McDropout(model).plan;
  const P = model.inputShape[0];
  // Spatial side of each tensor: pooling halves it, upsampling doubles it.
  const side = new Map<number, number>([[plan.inputId, P]]);
  const macsOf = (node: (typeof plan.nodes)[number]): number => {
    const layer = node.outboundLayer;
    const config = layer.getConfig() as {
      poolSize?: number[];
      size?: number[];
      kernelSize?: number[];
      filters?: number;
      strides?: number[];
    };
    const s = side.get(node.inputTensors[0].id) ?? P;
    let out = s;
    let macs = 0;
    const name = layer.getClassName();
    if (name === 'MaxPooling2D' || name === 'AveragePooling2D') {
      out = Math.floor(s / (config.strides?.[0] ?? config.poolSize?.[0] ?? 2));
    } else if (name === 'UpSampling2D') {
      out = s * (config.size?.[0] ?? 2);
    } else if (name === 'Conv2D') {
      out = Math.floor(s / (config.strides?.[0] ?? 1));
      const cin = node.inputTensors[0].shape[3] as number;
      macs = out * out * (config.kernelSize![0] * config.kernelSize![1]) * cin * config.filters!;
    }
    node.outputTensors.forEach(t => side.set(t.id, out));
    return macs;
  };
  const all = new Map(plan.nodes.map(n => [n, macsOf(n)]));
  const sum = (nodes: typeof plan.nodes) => nodes.reduce((a, n) => a + (all.get(n) ?? 0), 0);
  return { prefix: sum(plan.prefix), suffix: sum(plan.suffix), total: sum(plan.nodes) };
}

function mpx(row: Row, seconds: number): number {
  return (row.patches * row.size * row.size) / 1e6 / seconds;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.images.length === 0) {
    throw new Error('--images PNG... required');
  }
  const patches = args.images.map(readPng);
  const lines: string[] = [];
  const log = (s: string) => {
    lines.push(s);
    console.log(s);
  };

  // WebGPU needs navigator.gpu before its backend is imported (lazily, by initBackend).
  if (args.backend === 'webgpu' || args.backends.includes('webgpu')) {
    try {
      const { create, globals } = await import('webgpu');
      Object.assign(globalThis, globals);
      Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true, writable: true });
    } catch (err) {
      log(`webgpu package unavailable: ${(err as Error).message}`);
    }
  }

  // 1. Main comparison.
  const mainBackend = await initBackend(args.backend);
  const model = await loadModel(args.model);
  const plan = new McDropout(model).plan;
  log(
    `model ${model.metadata.name}: ${model.layersModel.countParams()} parameters, input ${model.inputShape.join('x')}, dropout layers ${model.layersModel.layers
      .filter(l => l.getClassName() === 'Dropout')
      .map(l => l.name)
      .join(',')}`
  );
  log(
    `prefix caching: ${plan.prefix.length} layers once per patch, ${plan.suffix.length} layers per sample (${plan.suffix.map(n => n.outboundLayer.name).join(' ')})`
  );
  let onnx: OrtContenders | null = null;
  if (args.python && !args.noOrt) {
    try {
      const dir = args.onnxDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'uga-onnx-'));
      const info = exportOnnx(args.python, args.model, dir);
      onnx = await OrtContenders.create(info, model.metadata.normalization, args.ortThreads);
      log(
        `ONNX (torch.onnx.export, legacy exporter, opset ${info.opset}): prefix ${info.prefix_channels} channels; suffix ops ${Object.entries(
          info.ops.suffix
        )
          .map(([k, v]) => `${k}x${v}`)
          .join(' ')}; ${onnx.label}`
      );
    } catch (err) {
      log(`onnxruntime-web contenders skipped: ${(err as Error).message}`);
    }
  }
  const main = await measure(mainBackend, model, patches, args, true, onnx);
  const macs = countMacs(model);
  // onnxruntime-web against tfjs: deterministic probabilities, and the MC mean of both caching contenders.
  // MC noise floor: the same comparison between two runs of ours with different seeds.
  const meanDiff = (a: Float32Array, b: Float32Array) => {
    let sum = 0;
    let max = 0;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      sum += d;
      max = Math.max(max, d);
    }
    return { mean: sum / a.length, max };
  };
  const ortCheck = { det: NaN, mcMean: NaN, mcMax: NaN, noiseMean: NaN, noiseMax: NaN };
  if (onnx) {
    const tfDet = await deterministicPass(model, patches.slice(0, 1));
    const ortDet = await onnx.deterministic(patches.slice(0, 1));
    ortCheck.det = 0;
    for (let i = 0; i < tfDet.length; i++) {
      ortCheck.det = Math.max(ortCheck.det, Math.abs(tfDet[i] - ortDet[i]));
    }
    const ours = new McDropout(model, { samples: args.samples, seed: 2 });
    const [a] = await ours.run(patches.slice(0, 1));
    ours.dispose();
    const again = new McDropout(model, { samples: args.samples, seed: 3 });
    const [a2] = await again.run(patches.slice(0, 1));
    again.dispose();
    const [b] = await onnx.cached(patches.slice(0, 1), args.samples);
    const d = meanDiff(a.meanProb, b.meanProb);
    const noise = meanDiff(a.meanProb, a2.meanProb);
    Object.assign(ortCheck, { mcMean: d.mean, mcMax: d.max, noiseMean: noise.mean, noiseMax: noise.max });
    await onnx.dispose();
  }
  let parity = NaN;
  if (args.torchProbs && fs.existsSync(args.torchProbs)) {
    const ref = new Float32Array(fs.readFileSync(args.torchProbs).buffer.slice(0));
    const ours = await deterministicPass(model, patches.slice(0, 1));
    parity = 0;
    for (let i = 0; i < ref.length; i++) {
      parity = Math.max(parity, Math.abs(ref[i] - ours[i]));
    }
  }
  model.dispose();

  let lastOnly: Row | null = null;
  if (args.lastDropoutOnly) {
    const variant = await loadModel(args.model, undefined, true);
    const vplan = new McDropout(variant).plan;
    log(
      `variant with only the last Dropout active: ${vplan.suffix.length} layers per sample (${vplan.suffix.map(n => n.outboundLayer.name).join(' ')})`
    );
    lastOnly = await measure(mainBackend, variant, patches, args);
    variant.dispose();
  }

  const torch = main.torch;
  log('');
  log(
    `T=${args.samples}, best of ${args.repeats} interleaved runs, ${patches.length} patches of ${main.size}x${main.size} (${mpx(main, 1).toFixed(3)} Mpx), backend ${mainBackend}`
  );
  log('| method | seconds | Mpx/s of uncertainty map |');
  log('| --- | ---: | ---: |');
  log(`| tfjs ${mainBackend}, prefix caching (ours) | ${main.ours_s.toFixed(3)} | ${mpx(main, main.ours_s).toFixed(4)} |`);
  log(`| tfjs ${mainBackend}, naive MC (T full passes) | ${main.naive_s.toFixed(3)} | ${mpx(main, main.naive_s).toFixed(4)} |`);
  if (torch) {
    log(
      `| PyTorch ${torch.torch} CPU (${torch.threads} threads), same prefix caching | ${torch.cached_mc_s.toFixed(3)} | ${mpx(main, torch.cached_mc_s).toFixed(4)} |`
    );
    log(
      `| PyTorch ${torch.torch} CPU (${torch.threads} threads), naive MC | ${torch.naive_mc_s.toFixed(3)} | ${mpx(main, torch.naive_mc_s).toFixed(4)} |`
    );
  }
  log(`| tfjs ${mainBackend}, one deterministic pass | ${main.det_s.toFixed(3)} | ${mpx(main, main.det_s).toFixed(4)} |`);
  if (torch) {
    log(`| PyTorch CPU, one deterministic pass | ${torch.deterministic_s.toFixed(3)} | ${mpx(main, torch.deterministic_s).toFixed(4)} |`);
  }
  const ortT = main.ort;
  if (ortT) {
    log(`| onnxruntime-web WASM, same prefix/suffix split | ${ortT.cached.toFixed(3)} | ${mpx(main, ortT.cached).toFixed(4)} |`);
    log(`| onnxruntime-web WASM, naive MC (T full passes) | ${ortT.naive.toFixed(3)} | ${mpx(main, ortT.naive).toFixed(4)} |`);
    log(`| onnxruntime-web WASM, one deterministic pass | ${ortT.det.toFixed(3)} | ${mpx(main, ortT.det).toFixed(4)} |`);
  }
  const speedupNaive = main.naive_s / main.ours_s;
  const speedupTorch = torch ? torch.naive_mc_s / main.ours_s : NaN;
  const speedupTorchCached = torch ? torch.cached_mc_s / main.ours_s : NaN;
  // Multiply-adds ours actually has to do: prefix once, suffix T times (2 flops each).
  const oursFlops = 2 * main.patches * (macs.prefix + args.samples * macs.suffix);
  const gflops = oursFlops / main.ours_s / 1e9;
  const t20 = main.ours_s / main.det_s;
  log('');
  log(`ours vs tfjs naive MC: ${speedupNaive.toFixed(2)}x faster`);
  log(`ours vs PyTorch naive MC: ${torch ? speedupTorch.toFixed(2) + 'x faster' : 'n/a (no torch reference)'}`);
  log(`ours vs PyTorch with the same prefix caching: ${torch ? speedupTorchCached.toFixed(2) + 'x' : 'n/a'}`);
  if (ortT) {
    log(
      `ours vs onnxruntime-web WASM: ${(ortT.cached / main.ours_s).toFixed(2)}x its prefix/suffix split (CPU time ${(ortT.cachedCpu / main.cpu.ours).toFixed(2)}x), ${(ortT.naive / main.ours_s).toFixed(2)}x its naive MC (CPU time ${(ortT.naiveCpu / main.cpu.ours).toFixed(2)}x); one deterministic pass: onnxruntime ${ortT.det.toFixed(3)} s vs tfjs ${main.det_s.toFixed(3)} s`
    );
    log(
      `onnxruntime-web vs tfjs: deterministic probabilities (patch 0) max |diff| = ${ortCheck.det.toExponential(2)}; MC mean probability, its split vs ours (different masks, T=${args.samples}): mean |diff| ${ortCheck.mcMean.toExponential(2)}, max ${ortCheck.mcMax.toFixed(3)} (ours vs ours with another seed: ${ortCheck.noiseMean.toExponential(2)}, max ${ortCheck.noiseMax.toFixed(3)})`
    );
    log(
      `CPU seconds, onnxruntime-web: split ${ortT.cachedCpu.toFixed(2)}, naive ${ortT.naiveCpu.toFixed(2)}, one pass ${ortT.detCpu.toFixed(2)}; T=${args.samples} cost in its deterministic passes: split ${(ortT.cached / ortT.det).toFixed(2)}`
    );
  }
  log(
    `model: ${(macs.total / (main.size * main.size)).toFixed(0)} MACs per pixel, suffix ${((100 * macs.suffix) / macs.total).toFixed(1)} %; ours achieves ${gflops.toFixed(2)} GFLOP/s (useful flops only)`
  );
  const c = main.cpu;
  log(
    `CPU seconds (steadier under load): ours ${c.ours.toFixed(2)}, tfjs naive ${c.naive.toFixed(2)}, tfjs one pass ${c.det.toFixed(2)}${torch ? `, PyTorch cached ${torch.cached_mc_cpu_s.toFixed(2)}, naive ${torch.naive_mc_cpu_s.toFixed(2)}, one pass ${torch.deterministic_cpu_s.toFixed(2)} (all threads)` : ''}`
  );
  log(
    `T=${args.samples} cost in deterministic passes by CPU time: ours ${(c.ours / c.det).toFixed(2)}${torch ? `, PyTorch cached ${(torch.cached_mc_cpu_s / torch.deterministic_cpu_s).toFixed(2)}` : ''}`
  );
  log(
    `T=${args.samples} cost in deterministic passes: ours ${t20.toFixed(2)}, tfjs naive ${(main.naive_s / main.det_s).toFixed(2)}${torch ? `, PyTorch naive ${(torch.naive_mc_s / torch.deterministic_s).toFixed(2)}` : ''}`
  );
  if (lastOnly) {
    log(
      `same weights, only the last Dropout active: ours ${lastOnly.ours_s.toFixed(3)} s, naive ${lastOnly.naive_s.toFixed(3)} s, T=${args.samples} = ${(lastOnly.ours_s / lastOnly.det_s).toFixed(2)} deterministic passes`
    );
  }
  if (!Number.isNaN(parity)) {
    log(`parity tfjs vs PyTorch deterministic probabilities (patch 0): max |diff| = ${parity.toExponential(2)}`);
  }

  // 2. Every backend on a tiny input.
  const rows: Row[] = [];
  log('');
  log(`Backends side by side: ${args.tinyPatches} patch(es) of ${args.tinySize}x${args.tinySize}, T=${args.samples}, same weights`);
  log('| backend | ours s | naive s | deterministic s | ours Mpx/s | naive / ours |');
  log('| --- | ---: | ---: | ---: | ---: | ---: |');
  const tinyPatches = patches.slice(0, args.tinyPatches).map(p => crop(p, args.tinySize));
  for (const b of args.backends) {
    let name: BackendName;
    try {
      name = await initBackend(b);
    } catch (err) {
      log(`| ${b} | unavailable: ${(err as Error).message} | | | | |`);
      continue;
    }
    const tiny = await loadModel(args.model, args.tinySize);
    const row = await measure(name, tiny, tinyPatches, args);
    tiny.dispose();
    rows.push(row);
    log(
      `| ${name} | ${row.ours_s.toFixed(3)} | ${row.naive_s.toFixed(3)} | ${row.det_s.toFixed(3)} | ${mpx(row, row.ours_s).toFixed(4)} | ${(row.naive_s / row.ours_s).toFixed(2)} |`
    );
  }

  const kv: Record<string, string> = {
    backend: mainBackend,
    samples: String(args.samples),
    patches: String(patches.length),
    size: String(main.size),
    ours_mpx_s: mpx(main, main.ours_s).toFixed(4),
    tfjs_naive_mpx_s: mpx(main, main.naive_s).toFixed(4),
    pytorch_naive_mpx_s: torch ? mpx(main, torch.naive_mc_s).toFixed(4) : 'NA',
    speedup_vs_tfjs_naive: speedupNaive.toFixed(2),
    speedup_vs_pytorch_naive: torch ? speedupTorch.toFixed(2) : 'NA',
    speedup_vs_pytorch_cached: torch ? speedupTorchCached.toFixed(2) : 'NA',
    speedup_vs_ort_cached: ortT ? (ortT.cached / main.ours_s).toFixed(2) : 'NA',
    speedup_vs_ort_naive: ortT ? (ortT.naive / main.ours_s).toFixed(2) : 'NA',
    t20_over_deterministic: t20.toFixed(2),
    pytorch_cached_t20_over_deterministic: torch ? (torch.cached_mc_s / torch.deterministic_s).toFixed(2) : 'NA',
    gflops_achieved: gflops.toFixed(2),
    t20_over_deterministic_cpu: (main.cpu.ours / main.cpu.det).toFixed(2),
    speedup_vs_pytorch_cached_cpu: torch ? (torch.cached_mc_cpu_s / main.cpu.ours).toFixed(2) : 'NA',
    speedup_vs_pytorch_naive_cpu: torch ? (torch.naive_mc_cpu_s / main.cpu.ours).toFixed(2) : 'NA',
    torch_threads: torch ? String(torch.threads) : 'NA',
    loadavg: os
      .loadavg()
      .map(v => v.toFixed(2))
      .join('/'),
    parity_max_abs_diff: Number.isNaN(parity) ? 'NA' : parity.toExponential(2),
    ort_cached_mpx_s: ortT ? mpx(main, ortT.cached).toFixed(4) : 'NA',
    ort_naive_mpx_s: ortT ? mpx(main, ortT.naive).toFixed(4) : 'NA',
    ort_det_s: ortT ? ortT.det.toFixed(3) : 'NA',
    speedup_vs_ort_cached_cpu: ortT ? (ortT.cachedCpu / main.cpu.ours).toFixed(2) : 'NA',
    speedup_vs_ort_naive_cpu: ortT ? (ortT.naiveCpu / main.cpu.ours).toFixed(2) : 'NA',
    ort_threads: ortT ? String(args.ortThreads) : 'NA',
    ort_parity_max_abs_diff: ortT ? ortCheck.det.toExponential(2) : 'NA'
  };
  if (lastOnly) {
    kv.last_dropout_only_t20_over_deterministic = (lastOnly.ours_s / lastOnly.det_s).toFixed(2);
    kv.last_dropout_only_speedup_vs_tfjs_naive = (lastOnly.naive_s / lastOnly.ours_s).toFixed(2);
  }
  for (const r of rows) {
    kv[`${r.backend}_tiny_ours_s`] = r.ours_s.toFixed(3);
    kv[`${r.backend}_tiny_naive_over_ours`] = (r.naive_s / r.ours_s).toFixed(2);
  }
  log('');
  console.log(
    Object.entries(kv)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')
  );
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
