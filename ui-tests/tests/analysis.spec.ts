import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const SAMPLE = path.join(ROOT, 'jupyterlab_uga', 'sample', 'CMU-1-Small-Region.svs');
const PANEL = '.jp-MainAreaWidget:not(.lm-mod-hidden) .jp-uga-SlidePanel';

async function openSample(page: IJupyterLabPageFixture, tmpPath: string) {
  await page.contents.uploadFile(SAMPLE, `${tmpPath}/sample.svs`);
  await page.evaluate(p => (window as any).jupyterapp.commands.execute('uga:open-slide', { path: p }), `${tmpPath}/sample.svs`);
  const panel = page.locator(PANEL);
  await expect(panel).toHaveAttribute('data-uga-status', 'ready', { timeout: 60000 });
  return panel;
}

/** Non-transparent pixels drawn by an overlay layer (-1: no such layer). */
async function layerPixels(page: IJupyterLabPageFixture, name: string): Promise<number> {
  return page.evaluate(name => {
    const viewer = (window as any).jupyterapp.shell.currentWidget.content.viewer;
    const layer = viewer.stage.findOne('.' + name);
    if (!layer) {
      return -1;
    }
    if (!layer.visible()) {
      return 0;
    }
    const canvas = layer.getNativeCanvasElement() as HTMLCanvasElement;
    const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let k = 3; k < d.length; k += 4) {
      n += d[k] > 0 ? 1 : 0;
    }
    return n;
  }, name);
}

test('analyses the view: heatmap, a ranked queue with thumbnails, click and keys to navigate', async ({ page, tmpPath }) => {
  const panel = await openSample(page, tmpPath);
  // Zoom on the middle so the run stays small (a few model patches).
  await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.viewer.showRect(500, 800, 1300, 1300));
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:analyze-view', { backend: 'wasm', samples: 8 }));
  await expect(panel).toHaveAttribute('data-uga-analysis', 'done', { timeout: 120000 });
  const rows = panel.locator('[data-uga-suggestion]');
  expect(await rows.count()).toBeGreaterThanOrEqual(3);
  await expect(panel.locator('.jp-uga-SuggestionQueue-detail')).toContainText('wasm, T = 8');
  await expect(panel.locator('.jp-uga-SuggestionQueue-title')).toHaveText(/^\d+ patch(es)?$/);
  await expect(rows.first()).toHaveAttribute('data-uga-state', 'suggested');
  await expect(panel.locator('canvas[data-uga-thumb="ready"]').first()).toBeVisible();
  expect(await layerPixels(page, 'uga-heatmap')).toBeGreaterThan(0);
  // The legend names the measure; the layer control toggles the heatmap off and on.
  await expect(panel.locator('.jp-uga-Legend-meaning')).toContainText('entropy');
  const heatToggle = panel.locator('[data-uga-layer="heatmap"] input[type="checkbox"]');
  await heatToggle.uncheck();
  await expect.poll(() => layerPixels(page, 'uga-heatmap')).toBe(0);
  await heatToggle.check();
  await expect.poll(() => layerPixels(page, 'uga-heatmap')).toBeGreaterThan(0);
  // The predicted mask is its own layer, off by default.
  await panel.locator('[data-uga-layer="mask"] input[type="checkbox"]').check();
  await expect.poll(() => layerPixels(page, 'uga-mask')).toBeGreaterThan(0);

  // Ranked from the most uncertain down, rank 1 first.
  const ranks = await rows.evaluateAll(els => els.map(e => Number((e as HTMLElement).dataset.ugaSuggestion)));
  expect(ranks).toEqual(ranks.map((_, i) => i + 1));

  // Clicking a row centres the view on that patch and selects it.
  await rows.nth(1).click();
  await expect(rows.nth(1)).toHaveClass(/jp-mod-selected/);
  const where = await page.evaluate(() => {
    const panel = (window as any).jupyterapp.shell.currentWidget.content;
    const v = panel.viewer.view;
    const s = panel.viewer.stage;
    const item = panel.session.review.item(2).suggestion;
    return { cx: v.x + s.width() / 2 / v.scale, cy: v.y + s.height() / 2 / v.scale, item };
  });
  expect(Math.abs(where.cx - (where.item.x + where.item.width / 2))).toBeLessThan(where.item.width / 2);
  expect(Math.abs(where.cy - (where.item.y + where.item.height / 2))).toBeLessThan(where.item.height / 2);
  // next/previous step through open suggestions.
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:next-suggestion'));
  await expect(rows.nth(2)).toHaveClass(/jp-mod-selected/);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:previous-suggestion'));
  await expect(rows.nth(1)).toHaveClass(/jp-mod-selected/);

  // Clearing removes the layers and the queue.
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:clear-analysis'));
  expect(await layerPixels(page, 'uga-heatmap')).toBe(-1);
  await expect(rows).toHaveCount(0);
});

test('an analysis can be cancelled from its progress bar; what was analysed is kept and marked partial', async ({ page, tmpPath }) => {
  const panel = await openSample(page, tmpPath);
  // The whole sample at T = 20 takes several seconds on wasm: long enough to cancel mid-run.
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:zoom-fit'));
  void page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:analyze-view', { backend: 'wasm', samples: 20 }));
  const progress = panel.locator('.jp-uga-Analysis-progress');
  await expect(progress).toBeVisible();
  await expect(progress).toContainText(/Analysing \d+\/\d+ tiles/, { timeout: 60000 });
  await expect(panel).toHaveAttribute('data-uga-analysis', 'running');
  await progress.getByRole('button', { name: 'Cancel' }).click();
  await expect(panel).toHaveAttribute('data-uga-analysis', 'cancelled');
  await expect(panel.getByText(/^Analysis cancelled/)).toBeVisible();
  await expect(progress).toBeHidden();
  // Tiles analysed before the cancel are kept, and the queue says the run was partial.
  const partial = await page.evaluate(() => !!(window as any).jupyterapp.shell.currentWidget.content.session.analysis.result);
  if (partial) {
    await expect(panel.locator('.jp-uga-SuggestionQueue-detail')).toContainText('partial run');
    await expect(panel.getByText(/tissue tiles analysed so far/)).toBeVisible();
  } else {
    expect(await layerPixels(page, 'uga-heatmap')).toBe(-1);
  }

  // A new run after a cancel completes normally.
  await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.viewer.showRect(700, 1000, 600, 600));
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:analyze-view', { backend: 'wasm', samples: 4 }));
  await expect(panel).toHaveAttribute('data-uga-analysis', 'done', { timeout: 120000 });
});

test('a rectangle drawn with the selection tool is what gets analysed', async ({ page, tmpPath }) => {
  const panel = await openSample(page, tmpPath);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:zoom-fit'));
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:analyze-selection', { backend: 'wasm', samples: 2 }));
  const stage = panel.locator('.jp-uga-SlideViewer-stage');
  const box = (await stage.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.4);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5, { steps: 5 });
  await page.mouse.up();
  await expect(panel).toHaveAttribute('data-uga-analysis', 'done', { timeout: 120000 });
  const region = await page.evaluate(() => {
    const panel = (window as any).jupyterapp.shell.currentWidget.content;
    return { r: panel.session.analysis.result.region.region, visible: panel.viewer.visibleRect() };
  });
  // Smaller than the view and inside it: the drawn rectangle, not the whole view.
  expect(region.r.width).toBeLessThan(region.visible.width * 0.3);
  expect(region.r.width).toBeGreaterThan(region.visible.width * 0.03);
  expect(region.r.x).toBeGreaterThan(region.visible.x);
});

test('a missing model gives a clear message', async ({ page, tmpPath }) => {
  const panel = await openSample(page, tmpPath);
  await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.updateSettings({ modelPath: 'no/such/model.json' }));
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:analyze-view', { backend: 'wasm' }));
  await expect(panel).toHaveAttribute('data-uga-analysis', 'error', { timeout: 60000 });
  const alert = panel.getByRole('alert');
  await expect(alert).toContainText('Uncertainty analysis failed');
  await expect(alert).toContainText(/model/i);
});
