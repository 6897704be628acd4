/**
 * The store against a real jupyter_server (the venv's), through
 * @jupyterlab/services' ContentsManager: checks the server behaviour the
 * store is built on (rename refuses an existing target, hidden names cannot
 * be renamed, save changes last_modified) and one full write / outside
 * change / restore cycle read back by Python.
 */
import { type ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ContentsManager, ServerConnection } from '@jupyterlab/services';
import { CorrectionsStore } from '../CorrectionsStore';
import { httpStatus } from '../errors';
import { PYTHON, correction, describePython, run, runPython, tempDir } from './helpers';

const TOKEN = 'uga-test-token';

async function startServer(root: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(
    path.join(path.dirname(PYTHON), 'jupyter'),
    [
      'server',
      '--no-browser',
      '--allow-root',
      `--ServerApp.root_dir=${root}`,
      `--IdentityProvider.token=${TOKEN}`,
      '--ServerApp.ip=127.0.0.1',
      `--ServerApp.port=${20000 + Math.floor(Math.random() * 20000)}`,
      '--ServerApp.port_retries=50'
    ],
    { cwd: root, env: { ...process.env, JUPYTER_CONFIG_DIR: path.join(root, '.cfg'), JUPYTER_RUNTIME_DIR: path.join(root, '.rt') } }
  );
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`jupyter server did not start:\n${log}`)), 90000);
    const onData = (d: Buffer) => {
      log += d.toString();
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}/`);
      }
    };
    proc.stderr!.on('data', onData);
    proc.stdout!.on('data', onData);
    proc.on('exit', code => reject(new Error(`jupyter server exited (${code}):\n${log}`)));
  });
  // wait until the REST API answers
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${url}api/status?token=${TOKEN}`);
      if (r.ok) {
        break;
      }
    } catch {
      // not yet
    }
    await new Promise(r => setTimeout(r, 200));
  }
  return { proc, url };
}

describePython('CorrectionsStore on a real jupyter_server', () => {
  let root: string;
  let server: { proc: ChildProcess; url: string };
  let contents: ContentsManager;

  beforeAll(async () => {
    root = tempDir('uga-server-');
    fs.mkdirSync(path.join(root, 'slides'));
    server = await startServer(root);
    const serverSettings = ServerConnection.makeSettings({ baseUrl: server.url, token: TOKEN, appendToken: false });
    contents = new ContentsManager({ serverSettings });
  }, 120000);

  afterAll(async () => {
    contents?.dispose();
    const proc = server?.proc;
    if (proc && proc.exitCode === null) {
      const exited = new Promise(r => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
  });

  it('rename refuses an existing target (409) and hidden names (400); save moves last_modified', async () => {
    await contents.save('slides/a.txt', { type: 'file', format: 'text', content: 'a' });
    const first = await contents.save('slides/b.txt', { type: 'file', format: 'text', content: 'b' });
    const err = await contents.rename('slides/a.txt', 'slides/b.txt').catch(e => e);
    expect(httpStatus(err)).toBe(409);
    await contents.save('slides/.hidden.tmp', { type: 'file', format: 'text', content: 'h' }).catch(() => undefined);
    const hidden = await contents.rename('slides/.hidden.tmp', 'slides/c.txt').catch(e => e);
    expect(httpStatus(hidden)).toBe(400);
    await new Promise(r => setTimeout(r, 5));
    const second = await contents.save('slides/b.txt', { type: 'file', format: 'text', content: 'bb' });
    expect(second.last_modified).not.toBe(first.last_modified);
    const missing = await contents.get('slides/nope.json').catch(e => e);
    expect(httpStatus(missing)).toBe(404);
  });

  it('writes, merges an outside change, restores, and Python reads the result', async () => {
    const store = new CorrectionsStore({ contents, slidePath: 'slides/X.svs' });
    expect(await store.restore()).toBeNull();
    expect((await store.writeSuggestions(run(3))).saved).toBe(true);
    // the notebook skips p002 meanwhile
    runPython(
      'import sys, json; from jupyterlab_uga.corrections import set_status; set_status(sys.argv[1], "p002", "skipped"); print("true")',
      [path.join(root, 'slides/X.svs.uga')]
    );
    const accepted = correction(0, 'corrected');
    expect((await store.accept(accepted)).saved).toBe(true);
    expect(store.correction('p002')!.status).toBe('skipped');
    const again = new CorrectionsStore({ contents, slidePath: 'slides/X.svs' });
    const restored = await again.restore();
    expect(restored!.patches.map(p => p.status)).toEqual(['corrected', 'suggested', 'skipped']);
    expect(Array.from(restored!.patches[0].mask)).toEqual(Array.from(accepted.mask));
    const py = runPython(
      'import sys, json; from jupyterlab_uga.corrections import load_corrections; c = load_corrections(sys.argv[1]); print(json.dumps(c.ids))',
      [path.join(root, 'slides/X.svs')]
    );
    expect(py).toEqual(['p000']);
    const left = fs.readdirSync(path.join(root, 'slides/X.svs.uga'), { recursive: true }).map(String);
    expect(left.filter(f => /\.(tmp|old)$/.test(f))).toEqual([]);
  });
});
