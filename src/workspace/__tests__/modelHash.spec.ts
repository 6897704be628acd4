import * as fs from 'fs';
import * as path from 'path';
import { modelHash } from '../modelHash';
import { REPO, describePython, runPython, tempDir } from './helpers';

const DEFAULT_MODEL = path.join(REPO, 'jupyterlab_uga/default_model');

function hashDir(dir: string): Promise<string> {
  return modelHash(
    new Uint8Array(fs.readFileSync(path.join(dir, 'model.json'))),
    async p => new Uint8Array(fs.readFileSync(path.join(dir, p)))
  );
}

describePython('model hash = jupyterlab_uga.export.model_hash', () => {
  it('for the default model', async () => {
    const py = runPython('import json, sys; from jupyterlab_uga.export import model_hash; print(json.dumps(model_hash(sys.argv[1])))', [
      DEFAULT_MODEL
    ]);
    expect(py).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await hashDir(DEFAULT_MODEL)).toBe(py);
  });

  it('for two shards (order matters) and changes when a shard changes', async () => {
    const dir = tempDir();
    const mj = { format: 'layers-model', modelTopology: {}, weightsManifest: [{ paths: ['b.bin', 'a.bin'], weights: [] }] };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(mj));
    fs.writeFileSync(path.join(dir, 'a.bin'), Buffer.from([1, 2, 3]));
    fs.writeFileSync(path.join(dir, 'b.bin'), Buffer.from([4, 5]));
    const code = 'import json, sys; from jupyterlab_uga.export import model_hash; print(json.dumps(model_hash(sys.argv[1])))';
    const h1 = await hashDir(dir);
    expect(h1).toBe(runPython(code, [dir]));
    fs.writeFileSync(path.join(dir, 'a.bin'), Buffer.from([1, 2, 4]));
    const h2 = await hashDir(dir);
    expect(h2).not.toBe(h1);
    expect(h2).toBe(runPython(code, [dir]));
  });
});

describe('modelHash input checks', () => {
  it('refuses a model.json without weightsManifest', async () => {
    await expect(modelHash(new TextEncoder().encode('{}'), async () => new Uint8Array())).rejects.toThrow(/no weightsManifest/);
  });
});
