import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const SAMPLE = path.join(ROOT, 'jupyterlab_uga', 'sample', 'CMU-1-Small-Region.svs');
const PANEL = '.jp-MainAreaWidget:not(.lm-mod-hidden) .jp-uga-SlidePanel';

async function open(page: IJupyterLabPageFixture, slide: string) {
  await page.evaluate(p => (window as any).jupyterapp.commands.execute('uga:open-slide', { path: p }), slide);
  const panel = page.locator(PANEL);
  await expect(panel).toHaveAttribute('data-uga-status', 'ready', { timeout: 60000 });
  return panel;
}

async function analyse(page: IJupyterLabPageFixture) {
  await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.viewer.showRect(500, 800, 1300, 1300));
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:analyze-view', { backend: 'wasm', samples: 2 }));
  await expect(page.locator(PANEL)).toHaveAttribute('data-uga-analysis', 'done', { timeout: 180000 });
}

/** A file through the app's Contents API: JSON parsed, or base64 for binaries. */
async function read(page: IJupyterLabPageFixture, p: string, format: 'text' | 'base64' = 'text') {
  return page.evaluate(
    async ([p, format]) => {
      const m = await (window as any).jupyterapp.serviceManager.contents.get(p, { content: true, format, type: 'file' });
      return { content: m.content as string, last_modified: m.last_modified as string };
    },
    [p, format] as const
  );
}

/** Corrected patches in the manifest; -1 while it does not exist yet. */
async function correctedCount(page: IJupyterLabPageFixture, m: string): Promise<number> {
  try {
    return JSON.parse((await read(page, m)).content).patches.filter((p: any) => p.status === 'corrected').length;
  } catch {
    return -1;
  }
}

/** Decode a PNG in the page: size and the set of values in the red channel. */
async function pngInfo(page: IJupyterLabPageFixture, base64: string) {
  return page.evaluate(async b64 => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = c.getContext('2d')!;
    ctx.drawImage(bmp, 0, 0);
    const d = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
    const values = new Set<number>();
    for (let i = 0; i < d.length; i += 4) {
      values.add(d[i]);
    }
    return { width: bmp.width, height: bmp.height, values: [...values].sort((a, b) => a - b) };
  }, base64);
}

async function acceptRank1(page: IJupyterLabPageFixture) {
  const panel = page.locator(PANEL);
  await panel.locator('[data-uga-suggestion="1"]').dblclick();
  const editor = panel.locator('[data-uga-editor]');
  await expect(editor).toBeVisible();
  await editor.locator('[data-uga-label="0"]').click();
  const box = (await editor.locator('.jp-uga-CorrectionEditor-stage').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.5, { steps: 6 });
  await page.mouse.up();
  await editor.locator('[data-uga-action="accept"]').click();
  await expect(panel.locator('[data-uga-suggestion="1"]')).toHaveAttribute('data-uga-state', 'corrected');
}

test('a corrected patch lands in the workspace and comes back after a reload', async ({ page, tmpPath }) => {
  const slide = `${tmpPath}/sample.svs`;
  await page.contents.uploadFile(SAMPLE, slide);
  const panel = await open(page, slide);
  await analyse(page);
  await acceptRank1(page);
  const folder = `${slide}.uga`;
  // The manifest is the last file written: poll until it says corrected.
  await expect.poll(() => correctedCount(page, `${folder}/manifest.json`), { timeout: 30000 }).toBe(1);
  const manifest = JSON.parse((await read(page, `${folder}/manifest.json`)).content);
  expect(manifest.formatVersion).toBe(1);
  expect(manifest.model.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
  const rows = await panel.locator('[data-uga-suggestion]').count();
  expect(manifest.patches.length).toBe(rows);
  const corrected = manifest.patches.find((p: any) => p.status === 'corrected');
  const size = manifest.analysis.patchSize;
  const image = await pngInfo(page, (await read(page, `${folder}/patches/${corrected.id}.png`, 'base64')).content);
  const mask = await pngInfo(page, (await read(page, `${folder}/masks/${corrected.id}.png`, 'base64')).content);
  expect([image.width, image.height]).toEqual([size, size]);
  expect([mask.width, mask.height]).toEqual([size, size]);
  for (const v of mask.values) {
    expect(v < manifest.classes.length || v === 255).toBe(true);
  }
  expect(mask.values).toContain(0); // the background stroke
  const geo = JSON.parse((await read(page, `${folder}/annotations.geojson`)).content);
  expect(geo.type).toBe('FeatureCollection');
  for (const f of geo.features) {
    expect(f.properties.objectType).toBe('annotation');
    expect(f.properties.classification.color).toHaveLength(3);
    const rings = f.geometry.type === 'Polygon' ? f.geometry.coordinates : f.geometry.coordinates.flat();
    for (const ring of rings) {
      expect(ring[0]).toEqual(ring[ring.length - 1]);
    }
  }

  // Reload: the queue comes back from the folder with its states.
  // A plain browser reload (Galata's reload helper waits for its own test hooks).
  await page.evaluate(() => location.reload());
  await page.waitForFunction(() => !!(window as any).jupyterapp?.commands?.hasCommand('uga:open-slide'), undefined, { timeout: 60000 });
  const again = await open(page, slide);
  await expect(again.locator('[data-uga-suggestion]')).toHaveCount(rows, { timeout: 30000 });
  await expect(again.locator('[data-uga-state="corrected"]')).toHaveCount(1);
  await expect(again.locator('.jp-uga-SuggestionQueue-title')).toContainText('from the workspace');
});

test('a refused write keeps the correction in the panel, marked unsaved, and Retry saves it', async ({ page, tmpPath }) => {
  const slide = `${tmpPath}/sample.svs`;
  await page.contents.uploadFile(SAMPLE, slide);
  const panel = await open(page, slide);
  await analyse(page);
  await expect.poll(async () => (await page.contents.fileExists(`${slide}.uga/manifest.json`)) as boolean, { timeout: 30000 }).toBe(true);
  const before = await read(page, `${slide}.uga/manifest.json`);
  // The server refuses every write into the folder (as a read-only folder does).
  const refuse = (route: any) =>
    ['PUT', 'PATCH', 'POST', 'DELETE'].includes(route.request().method())
      ? route.fulfill({
          status: 403,
          contentType: 'application/json',
          body: JSON.stringify({ message: 'Permission denied: read-only folder' })
        })
      : route.continue();
  await page.route('**/api/contents/**.uga**', refuse);

  await acceptRank1(page);
  const row = panel.locator('[data-uga-suggestion="1"]');
  await expect(row).toHaveAttribute('data-uga-save', 'unsaved', { timeout: 30000 });
  await expect(panel.getByRole('alert')).toContainText(/Not saved/);
  // Nothing on disk changed.
  expect((await read(page, `${slide}.uga/manifest.json`)).content).toBe(before.content);
  await page.unroute('**/api/contents/**.uga**', refuse);
  await row.getByRole('button', { name: 'Retry' }).click();
  await expect(row).not.toHaveAttribute('data-uga-save', 'unsaved', { timeout: 30000 });
  await expect.poll(() => correctedCount(page, `${slide}.uga/manifest.json`), { timeout: 30000 }).toBe(1);
});

test('a manifest changed from outside is merged, never overwritten silently', async ({ page, tmpPath }) => {
  const slide = `${tmpPath}/sample.svs`;
  await page.contents.uploadFile(SAMPLE, slide);
  const panel = await open(page, slide);
  await analyse(page);
  const m = `${slide}.uga/manifest.json`;
  await expect.poll(async () => (await page.contents.fileExists(m)) as boolean, { timeout: 30000 }).toBe(true);
  // The notebook marks the last patch skipped and adds a key of its own.
  const manifest = JSON.parse((await read(page, m)).content);
  const last = manifest.patches[manifest.patches.length - 1];
  last.status = 'skipped';
  manifest.notebookNote = 'edited outside';
  await page.evaluate(
    async ([p, text]) => {
      await (window as any).jupyterapp.serviceManager.contents.save(p, { type: 'file', format: 'text', content: text });
    },
    [m, JSON.stringify(manifest, null, 2)] as const
  );
  await acceptRank1(page);
  await expect.poll(() => correctedCount(page, m), { timeout: 30000 }).toBe(1);
  const merged = JSON.parse((await read(page, m)).content);
  // Both changes are there: the panel's correction and the notebook's skip.
  expect(merged.patches.find((p: any) => p.id === last.id).status).toBe('skipped');
  expect(merged.notebookNote).toBe('edited outside');
  await expect(panel.locator('.jp-Dialog')).toHaveCount(0);
});
