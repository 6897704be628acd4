import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Correction, SuggestionRun } from '../../tokens';
import type { ModelClassInfo } from '../../engine/model';

export const REPO = path.resolve(__dirname, '../../..');
/** The venv's interpreter; UGA_PYTHON overrides it (e.g. to check that CI=true fails without one). */
export const PYTHON = process.env.UGA_PYTHON ?? path.join(REPO, '.venv/bin/python');

/**
 * The venv's Python, or null when absent — which under CI=true is a failure
 * (the cross-language tests must run there), not a skip.
 */
export function python(): string | null {
  if (fs.existsSync(PYTHON)) {
    return PYTHON;
  }
  if (process.env.CI === 'true') {
    throw new Error(`${PYTHON} is missing: run \`make build\` (CI=true: the cross-language tests may not be skipped)`);
  }
  return null;
}

/** Run Python code with the repo on PYTHONPATH; stdout parsed as JSON. */
export function runPython(code: string, args: string[] = [], input?: string): any {
  const py = python();
  if (!py) {
    throw new Error('no python');
  }
  const out = execFileSync(py, ['-c', code, ...args], {
    cwd: REPO,
    env: { ...process.env, PYTHONPATH: REPO },
    input,
    encoding: 'utf8',
    maxBuffer: 64 << 20
  });
  return JSON.parse(out);
}

/** `describe` that skips (locally, with a note) when there is no venv. */
export const describePython: jest.Describe = ((name: string, fn: () => void) => {
  const py = python();
  if (!py) {
    console.warn(`skipping "${name}": ${PYTHON} is missing (CI=true would fail)`);
    return describe.skip(name, fn);
  }
  return describe(name, fn);
}) as unknown as jest.Describe;

export function tempDir(prefix = 'uga-ws-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const CLASSES: ModelClassInfo[] = [
  { name: 'Background', color: [0, 0, 0] },
  { name: 'Gland', color: [220, 40, 40] },
  { name: 'Stroma', color: [40, 160, 60] }
];

/** Deterministic pseudo-random generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A blob-ish mask: rectangles of classes 1..2 with a hole and ignore pixels. */
export function blobMask(size: number, seed: number): Uint8Array {
  const r = rng(seed);
  const m = new Uint8Array(size * size);
  for (let k = 0; k < 4; k++) {
    const cls = 1 + (k % 2);
    const x0 = Math.floor(r() * size * 0.7);
    const y0 = Math.floor(r() * size * 0.7);
    const w = 2 + Math.floor(r() * size * 0.3);
    const h = 2 + Math.floor(r() * size * 0.3);
    for (let y = y0; y < Math.min(size, y0 + h); y++) {
      for (let x = x0; x < Math.min(size, x0 + w); x++) {
        m[y * size + x] = cls;
      }
    }
  }
  m[Math.floor(size / 2) * size + Math.floor(size / 2)] = 0; // a hole (or background pixel)
  m[0] = 255;
  m[1] = 255;
  return m;
}

export function image(size: number, seed: number): Uint8ClampedArray {
  const r = rng(seed);
  const px = new Uint8ClampedArray(size * size * 4);
  for (let i = 0; i < px.length; i++) {
    px[i] = i % 4 === 3 ? 255 : Math.floor(r() * 256);
  }
  return px;
}

export const SIZE = 32;
export const DOWNSAMPLE = 2;

export function correction(i: number, status: Correction['status'] = 'suggested'): Correction {
  const b = SIZE * DOWNSAMPLE;
  return {
    id: `p${String(i).padStart(3, '0')}`,
    rank: i + 1,
    score: 1 / (i + 1),
    box: [100 + b * i, 200, b, b],
    level: 0,
    downsample: DOWNSAMPLE,
    patchSize: SIZE,
    classes: CLASSES,
    mask: blobMask(SIZE, i + 1),
    image: image(SIZE, 100 + i),
    status
  };
}

export function run(n: number, offset = 0): SuggestionRun {
  return {
    slide: { path: 'X.svs', width: 4000, height: 3000, mpp: 0.25 },
    model: { path: '', hash: 'sha256:' + 'ab'.repeat(32), name: 'uga-unet-ebhi', version: '1' },
    analysis: { T: 20, strategy: 'entropy', patchSize: SIZE, mpp: 0.5, level: 0, downsample: DOWNSAMPLE },
    classes: CLASSES,
    patches: Array.from({ length: n }, (_, i) => correction(i + offset))
  };
}
