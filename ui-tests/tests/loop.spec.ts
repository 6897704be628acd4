// The loop back on the mosaic slide (EBHI-Seg target tiles, shipped with its
// ground-truth mask): correct two patches with the ground truth, fine-tune a
// few small steps in the browser, see the new version in the folder, the
// panel on it and Dice per round; a version written by Python is offered, a
// corrupt one refused with the old model still active.
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const SAMPLE = path.join(ROOT, 'jupyterlab_uga', 'sample');
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
const PANEL = '.jp-MainAreaWidget:not(.lm-mod-hidden) .jp-uga-SlidePanel';

const exec = (page: IJupyterLabPageFixture, id: string, args: Record<string, unknown> = {}) =>
  page.evaluate(([id, args]) => (window as any).jupyterapp.commands.execute(id, args), [id, args] as const);

async function openMosaic(page: IJupyterLabPageFixture, tmpPath: string) {
  const slide = `${tmpPath}/mosaic.tif`;
  await page.contents.uploadFile(path.join(SAMPLE, 'ebhi-target-mosaic.tif'), slide);
  await page.contents.uploadFile(path.join(SAMPLE, 'ebhi-target-mosaic.tif.mask.png'), `${slide}.mask.png`);
  await exec(page, 'uga:open-slide', { path: slide });
  const panel = page.locator(PANEL);
  await expect(panel).toHaveAttribute('data-uga-status', 'ready', { timeout: 60000 });
  return { slide, panel };
}

async function analyse(page: IJupyterLabPageFixture) {
  // Three tiles of the mosaic (224 px each at the model's resolution) keep the runs short.
  await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.viewer.showRect(0, 0, 672, 448));
  await exec(page, 'uga:analyze-view', { backend: 'wasm', samples: 2 });
  await expect(page.locator(PANEL)).toHaveAttribute('data-uga-analysis', 'done', { timeout: 180000 });
}

/** The slide's manifest, or an empty one while it is not written yet. */
async function manifest(page: IJupyterLabPageFixture, slide: string): Promise<any> {
  return page.evaluate(async p => {
    try {
      const m = await (window as any).jupyterapp.serviceManager.contents.get(p, { content: true, format: 'text', type: 'file' });
      return JSON.parse(m.content);
    } catch {
      return { patches: [], models: [] };
    }
  }, `${slide}.uga/manifest.json`);
}

/** A model version as the notebook writes one: jupyterlab_uga.export of the default model, with a new version name. */
function pythonModel(version: string): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'uga-model-'));
  const code = [
    'import sys',
    'from jupyterlab_uga.export import load_tfjs, metadata_of, export_tfjs',
    'src = "jupyterlab_uga/default_model"',
    'md = metadata_of(src)',
    'md["version"] = sys.argv[2]',
    'export_tfjs(load_tfjs(src), sys.argv[1], {"uga": md})'
  ].join('\n');
  execFileSync(PYTHON, ['-c', code, path.join(out, version), version], { cwd: ROOT });
  return path.join(out, version);
}

test('correct two patches, fine-tune in the browser, switch, Dice per round; Python versions offered, corrupt ones refused', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(600000);
  const { slide, panel } = await openMosaic(page, tmpPath);
  const rounds = panel.locator('.jp-uga-ModelRounds');
  await analyse(page);
  const first = await panel.getAttribute('data-uga-model');
  expect(first).toMatch(/@/);
  // Round 0 measured against the sibling mask.
  await expect(rounds.locator('[data-uga-round]')).toHaveCount(1, { timeout: 30000 });
  const before = Number(await rounds.locator('[data-uga-round="0"]').getAttribute('data-uga-mean'));
  expect(before).toBeGreaterThan(0.2);
  expect(before).toBeLessThanOrEqual(1);

  // Correct ranks 1 and 2 by filling them with the ground truth.
  for (const rank of [1, 2]) {
    await panel.locator(`[data-uga-suggestion="${rank}"]`).dblclick();
    await expect(panel.locator('[data-uga-editor]')).toBeVisible();
    await exec(page, 'uga:editor-fill-from-truth');
    await panel.locator('[data-uga-editor] [data-uga-action="accept"]').click();
    await expect(panel.locator(`[data-uga-suggestion="${rank}"]`)).toHaveAttribute('data-uga-state', 'corrected');
  }
  await expect
    .poll(async () => (await manifest(page, slide)).patches.filter((p: any) => p.status === 'corrected').length, { timeout: 30000 })
    .toBe(2);

  // Fine-tune a few small steps (the page's tfjs backend; WASM falls back to CPU).
  const fineTune = panel.locator('button[data-command="uga:fine-tune"]');
  await expect(fineTune).toBeEnabled();
  await exec(page, 'uga:fine-tune', { steps: 2, batchSize: 2, crop: 64 });
  await expect.poll(async () => (await manifest(page, slide)).models?.length ?? 0, { timeout: 300000 }).toBe(1);
  const m1 = (await manifest(page, slide)).models[0];
  expect(m1.version).toBe('1');
  expect(m1.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(m1.patches).toHaveLength(2);
  // Trained where tfjs can train convolutions (WASM cannot: it falls back to CPU).
  expect(['webgpu', 'webgl', 'cpu']).toContain(m1.settings.backend);
  test.info().annotations.push({ type: 'fine-tune', description: JSON.stringify(m1.settings) });
  expect(await page.contents.fileExists(`${slide}.uga/models/1/model.json`)).toBe(true);
  // The panel switched to it and re-ran: a second Dice row, and the numbers in the manifest entry.
  await expect(panel).toHaveAttribute('data-uga-model', /\+ft1$/, { timeout: 180000 });
  await expect(rounds.locator('[data-uga-round]')).toHaveCount(2, { timeout: 180000 });
  await expect(rounds.locator('[data-uga-round="1"]')).toHaveAttribute('data-uga-model', /\+ft1$/);
  await expect
    .poll(async () => (await manifest(page, slide)).models[0].dice?.after?.mean ?? null, { timeout: 30000 })
    .toBeCloseTo(Number(await rounds.locator('[data-uga-round="1"]').getAttribute('data-uga-mean')), 3);
  const dice = (await manifest(page, slide)).models[0].dice;
  expect(dice.before.model).toBe(first);
  expect(dice.before.mean).toBeCloseTo(before, 3);
  expect(Object.keys(dice.after.perClass)).toHaveLength(2);
  await expect(panel.locator('.jp-uga-ModelRounds-offer')).toBeHidden();

  // A version written by Python (the notebook's export) is offered; switching re-analyses with it.
  const dir = pythonModel('7');
  for (const f of fs.readdirSync(dir)) {
    await page.contents.uploadFile(path.join(dir, f), `${slide}.uga/models/7/${f}`);
  }
  const offer = panel.locator('.jp-uga-ModelRounds-offer');
  await expect(offer).toHaveAttribute('data-uga-offer', '7', { timeout: 30000 });
  await offer.getByRole('button', { name: 'Switch and re-analyse' }).click();
  await expect(panel).toHaveAttribute('data-uga-model', /@7$/, { timeout: 180000 });
  await expect(rounds.locator('[data-uga-round]')).toHaveCount(3, { timeout: 180000 });

  // A corrupt model.json in a new version: refused with the reason, version 7 stays active.
  await page.contents.uploadContent('{"format": "layers-model", "modelTopology": ', 'text', `${slide}.uga/models/8/model.json`);
  await expect(offer).toHaveAttribute('data-uga-offer', '8', { timeout: 30000 });
  await offer.getByRole('button', { name: 'Switch and re-analyse' }).click();
  await expect(panel.getByRole('alert')).toContainText(/Model version 8 refused: .+\. Still using .+@7\./, { timeout: 60000 });
  await expect(panel).toHaveAttribute('data-uga-model', /@7$/);
  await expect(rounds.locator('[data-uga-round]')).toHaveCount(3);
  await panel.screenshot({ path: path.join(ROOT, 'docs', 'screenshots', 'loop.png') });
});
