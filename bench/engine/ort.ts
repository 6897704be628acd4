/**
 * onnxruntime-web (WASM execution provider, in Node) contenders for bench.ts,
 * on the ONNX graphs that bench/engine/onnx_export.py writes from the same
 * tfjs weights:
 *
 *   naive  = mc.onnx (the whole network, Dropout active) run T times;
 *   cached = prefix.onnx once, suffix.onnx (Dropout active) T times;
 *   det    = det.onnx once (eval mode).
 *
 * Both MC contenders reduce every sample straight into the same sums as the
 * engine (mean p, mean p^2, mean H[p]; nothing [T, ...] is kept) and finish
 * with the engine's own mapsFromMoments, so their output is UncertaintyMaps
 * like McDropout's. Dropout masks are drawn by onnxruntime (ONNX Dropout with
 * training_mode = true), inside the timed runs.
 */
import { spawnSync } from 'child_process';
import * as ort from 'onnxruntime-web';
import { PatchPixels, normalisePatches } from '../../src/engine/mcdropout';
import { UncertaintyMaps, mapsFromMoments } from '../../src/uncertainty/maps';

export interface OrtExport {
  opset: number;
  size: number;
  prefix_channels: number;
  classes: number;
  files: { det: string; mc: string; prefix: string; suffix: string };
  ops: Record<string, Record<string, number>>;
}

export interface Normalization {
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/** Runs onnx_export.py (the network rebuilt by load_tfjs) into outDir. */
export function exportOnnx(python: string, modelDir: string, outDir: string): OrtExport {
  const r = spawnSync(python, ['bench/engine/onnx_export.py', '--model', modelDir, '--out', outDir], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: process.cwd() }
  });
  if (r.status !== 0) {
    throw new Error(`onnx_export.py failed: ${(r.stderr || r.stdout).slice(-600)}`);
  }
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** Running per-patch sums in the engine's layout (H*W*C, channels last). */
class Moments {
  readonly p: Float32Array[];
  readonly p2: Float32Array[];
  readonly h: Float32Array[];
  samples = 0;

  constructor(
    readonly patches: number,
    readonly pixels: number,
    readonly classes: number
  ) {
    this.p = Array.from({ length: patches }, () => new Float32Array(pixels * classes));
    this.p2 = Array.from({ length: patches }, () => new Float32Array(pixels * classes));
    this.h = Array.from({ length: patches }, () => new Float32Array(pixels));
  }

  /** Adds one sample: probabilities [N, C, H, W] (NCHW, as onnxruntime returns them). */
  add(probs: Float32Array): void {
    const { pixels: P, classes: C } = this;
    for (let n = 0; n < this.patches; n++) {
      const base = n * C * P;
      const sp = this.p[n];
      const sp2 = this.p2[n];
      const sh = this.h[n];
      for (let i = 0; i < P; i++) {
        let h = 0;
        for (let c = 0; c < C; c++) {
          const v = probs[base + c * P + i];
          sp[i * C + c] += v;
          sp2[i * C + c] += v * v;
          if (v > 0) {
            h -= v * Math.log(v);
          }
        }
        sh[i] += h;
      }
    }
    this.samples++;
  }

  maps(side: number): UncertaintyMaps[] {
    const k = 1 / this.samples;
    const scale = (a: Float32Array) => {
      for (let i = 0; i < a.length; i++) {
        a[i] *= k;
      }
      return a;
    };
    return this.p.map((p, n) =>
      mapsFromMoments({
        width: side,
        height: side,
        classes: this.classes,
        meanProb: scale(p),
        meanSquareProb: scale(this.p2[n]),
        meanSampleEntropy: scale(this.h[n]),
        samples: this.samples
      })
    );
  }
}

export class OrtContenders {
  private constructor(
    private readonly info: OrtExport,
    private readonly norm: Normalization,
    private readonly det: ort.InferenceSession,
    private readonly mc: ort.InferenceSession,
    private readonly prefix: ort.InferenceSession,
    private readonly suffix: ort.InferenceSession
  ) {}

  /** threads: onnxruntime-web's WASM threads (one process-wide setting, taken at the first session). */
  static async create(info: OrtExport, norm: Normalization, threads = 1): Promise<OrtContenders> {
    ort.env.wasm.numThreads = threads;
    const options: ort.InferenceSession.SessionOptions = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
    const open = (file: string) => ort.InferenceSession.create(file, options);
    return new OrtContenders(
      info,
      norm,
      await open(info.files.det),
      await open(info.files.mc),
      await open(info.files.prefix),
      await open(info.files.suffix)
    );
  }

  get label(): string {
    return `onnxruntime-web ${ort.env.versions.web ?? ort.env.versions.common} WASM (${ort.env.wasm.numThreads} thread${ort.env.wasm.numThreads === 1 ? '' : 's'})`;
  }

  /** Patches to one normalised NCHW block (the engine normalises to NHWC; same arithmetic). */
  private input(patches: PatchPixels[]): ort.Tensor {
    const S = this.info.size;
    const nhwc = normalisePatches(patches, S, S, this.norm);
    const P = S * S;
    const nchw = new Float32Array(nhwc.length);
    for (let n = 0; n < patches.length; n++) {
      const base = n * P * 3;
      for (let i = 0; i < P; i++) {
        for (let c = 0; c < 3; c++) {
          nchw[base + c * P + i] = nhwc[base + i * 3 + c];
        }
      }
    }
    return new ort.Tensor('float32', nchw, [patches.length, 3, S, S]);
  }

  private moments(n: number): Moments {
    return new Moments(n, this.info.size * this.info.size, this.info.classes);
  }

  /** T full passes of mc.onnx. */
  async naive(patches: PatchPixels[], samples: number): Promise<UncertaintyMaps[]> {
    const x = this.input(patches);
    const m = this.moments(patches.length);
    for (let t = 0; t < samples; t++) {
      const out = await this.mc.run({ x });
      m.add(out.probs.data as Float32Array);
      out.probs.dispose();
    }
    x.dispose();
    return m.maps(this.info.size);
  }

  /** prefix.onnx once, suffix.onnx T times. */
  async cached(patches: PatchPixels[], samples: number): Promise<UncertaintyMaps[]> {
    const x = this.input(patches);
    const pre = await this.prefix.run({ x });
    x.dispose();
    const m = this.moments(patches.length);
    for (let t = 0; t < samples; t++) {
      const out = await this.suffix.run({ prefix: pre.prefix });
      m.add(out.probs.data as Float32Array);
      out.probs.dispose();
    }
    pre.prefix.dispose();
    return m.maps(this.info.size);
  }

  /** One deterministic pass: probabilities NHWC (the layout of tfjs' predict), for parity checks. */
  async deterministic(patches: PatchPixels[]): Promise<Float32Array> {
    const x = this.input(patches);
    const out = await this.det.run({ x });
    x.dispose();
    const probs = out.probs.data as Float32Array;
    const C = this.info.classes;
    const P = this.info.size * this.info.size;
    const nhwc = new Float32Array(probs.length);
    for (let n = 0; n < patches.length; n++) {
      for (let c = 0; c < C; c++) {
        for (let i = 0; i < P; i++) {
          nhwc[(n * P + i) * C + c] = probs[(n * C + c) * P + i];
        }
      }
    }
    out.probs.dispose();
    return nhwc;
  }

  async dispose(): Promise<void> {
    for (const s of [this.det, this.mc, this.prefix, this.suffix]) {
      await s.release();
    }
  }
}
