/**
 * The shipped default model fine-tuned for two steps, started on the wasm
 * backend (which cannot train convolutions: the run must switch to cpu,
 * warn with the expected time, and switch back). The saved bytes must load
 * in the engine and in Python (jupyterlab_uga.export.load_tfjs), give the
 * same predictions in both, and hash like jupyterlab_uga.export.model_hash.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../engine/backends';
import { loadSegmentationModel } from '../../engine/model';
import { randomPatches } from '../../engine/__tests__/helpers';
import { ModelJSON, fetchModelFiles, filesHandler, fineTune } from '../finetune';
import { requireOrSkip } from '../../__tests__/requirements';

const root = path.resolve(__dirname, '../../..');
const modelDir = path.join(root, 'jupyterlab_uga/default_model');
const python = path.join(root, '.venv/bin/python');
const missing = [path.join(modelDir, 'model.json'), python].filter(p => !fs.existsSync(p));

function diskFetch(dir: string): typeof fetch {
  return (async (input: RequestInfo | URL) => {
    const name = String(input).replace(/^.*\//, '');
    const file = path.join(dir, name);
    const ok = fs.existsSync(file);
    const bytes = ok ? new Uint8Array(fs.readFileSync(file)) : new Uint8Array();
    return {
      ok,
      status: ok ? 200 : 404,
      text: async () => new TextDecoder().decode(bytes),
      arrayBuffer: async () => bytes.slice().buffer
    } as unknown as Response;
  }) as typeof fetch;
}

if (requireOrSkip('fine-tuning the default model', missing)) {
  it('fine-tunes on cpu when wasm is active, and the result loads in the engine and in Python alike', async () => {
    expect(await initBackend('wasm')).toBe('wasm');
    const parent = await fetchModelFiles('http://server/files/default_model/model.json', diskFetch(modelDir));
    const size = 64;
    const patches = randomPatches(3, size, 11).map((p, i) => {
      const mask = new Uint8Array(size * size);
      for (let j = 0; j < mask.length; j++) {
        mask[j] = j % 7 === 0 ? 255 : p.data[j * 4 + 1] > 100 ? 1 : 0;
      }
      return { id: `c${i}`, patchSize: size, image: p.data, mask };
    });
    const warnings: string[] = [];
    const before = tf.memory().numTensors;
    const result = await fineTune({
      parent,
      patches,
      version: '1',
      parentHash: 'sha256:' + 'a'.repeat(64),
      settings: { steps: 2, batchSize: 2, crop: 32, lr: 1e-3 },
      onWarning: w => warnings.push(w)
    });
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.memory().numTensors).toBe(before);
    expect(result.backend).toBe('cpu');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/WASM cannot train.*CPU backend.*first step took [\d.]+ s, about \d+ min for 2 steps/);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uga-ft-'));
    try {
      for (const [name, bytes] of Object.entries(result.files)) {
        fs.writeFileSync(path.join(dir, name), bytes);
      }
      const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as ModelJSON;
      expect(mj.modelTopology).toEqual(parent.modelJson.modelTopology);
      expect((mj.userDefinedMetadata!.uga as { version: string }).version).toBe('1+ft1');
      // Same deterministic input in both: x[i] = sin(0.37 i), NHWC [1, 32, 32, 3], already normalised.
      const n = 32 * 32 * 3;
      const x = Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i));
      const loaded = await loadSegmentationModel(filesHandler(result.files));
      const ours = tf.tidy(() => (loaded.layersModel.predict(tf.tensor4d(x, [1, 32, 32, 3])) as tf.Tensor).dataSync());
      loaded.dispose();
      const script = [
        'import sys, json, numpy as np, torch',
        'from jupyterlab_uga.export import load_tfjs, model_hash',
        'm = load_tfjs(sys.argv[1])',
        'x = np.sin(0.37 * np.arange(32 * 32 * 3, dtype=np.float64)).astype(np.float32).reshape(1, 32, 32, 3)',
        'with torch.no_grad(): p = m(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()',
        'print(json.dumps({"hash": model_hash(sys.argv[1]), "probs": p.ravel().tolist(), "version": m.uga_metadata["uga"]["version"]}))'
      ].join('\n');
      const run = spawnSync(python, ['-c', script, dir], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, PYTHONPATH: root, OMP_NUM_THREADS: '1' }
      });
      expect(run.stderr).not.toMatch(/Error/);
      const py = JSON.parse(run.stdout.trim().split('\n').pop()!) as { hash: string; probs: number[]; version: string };
      expect(py.hash).toBe(result.hash);
      expect(py.version).toBe('1+ft1');
      expect(py.probs).toHaveLength(ours.length);
      const maxDiff = py.probs.reduce((m, v, i) => Math.max(m, Math.abs(v - ours[i])), 0);
      expect(maxDiff).toBeLessThan(1e-4);
      // ... and the weights did change: the parent predicts something else.
      const parentModel = await loadSegmentationModel(filesHandler(parent));
      const theirs = tf.tidy(() => (parentModel.layersModel.predict(tf.tensor4d(x, [1, 32, 32, 3])) as tf.Tensor).dataSync());
      parentModel.dispose();
      expect(theirs.reduce((m, v, i) => Math.max(m, Math.abs(v - ours[i])), 0)).toBeGreaterThan(1e-4);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300000);
}
