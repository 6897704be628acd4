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

/** Non-transparent pixels of the heatmap layer's canvas. */
async function heatmapPixels(page: IJupyterLabPageFixture): Promise<number> {
  return page.evaluate(() => {
    const viewer = (window as any).jupyterapp.shell.currentWidget.content.viewer;
    const layer = viewer.stage.findOne('.uga-heatmap');
    if (!layer) {
      return -1;
    }
    const canvas = layer.getCanvas()._canvas as HTMLCanvasElement;
    const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let k = 3; k < d.length; k += 4) {
      n += d[k] > 0 ? 1 : 0;
    }
    return n;
  });
}

test('analyses the view: heatmap, ranked patches, click to navigate', async ({ page, tmpPath }) => {
  const panel = await openSample(page, tmpPath);
  // Zoom on the middle so the run stays small (a few model patches).
  await page.evaluate(() => {
    const viewer = (window as any).jupyterapp.shell.currentWidget.content.viewer;
    viewer.showRect(700, 1000, 900, 900);
  });
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('uga:analyze-view', { backend: 'wasm', samples: 8 })
  );
  await expect(panel).toHaveAttribute('data-uga-analysis', 'done', { timeout: 120000 });
  const items = panel.locator('.jp-uga-PatchList-item');
  expect(await items.count()).toBeGreaterThan(0);
  await expect(panel.locator('.jp-uga-PatchList-header')).toContainText('wasm');
  expect(await heatmapPixels(page)).toBeGreaterThan(0);

  // Scores are ranked from the most uncertain down.
  const scores = (await items.allTextContents()).map(t => parseFloat(/score ([\d.]+)/.exec(t)![1]));
  for (let i = 1; i < scores.length; i++) {
    expect(scores[i]).toBeLessThanOrEqual(scores[i - 1]);
  }
  // Clicking a suggestion centres the view on that patch.
  await items.first().click();
  const centred = await page.evaluate(() => {
    const panel = (window as any).jupyterapp.shell.currentWidget.content;
    const v = panel.viewer.view;
    const s = panel.viewer.stage;
    return { cx: v.x + s.width() / 2 / v.scale, cy: v.y + s.height() / 2 / v.scale };
  });
  const box = await page.evaluate(() => {
    const layer = (window as any).jupyterapp.shell.currentWidget.content.viewer.stage.findOne('.uga-patches');
    const r = layer.findOne('Rect');
    return { x: r.x(), y: r.y(), w: r.width(), h: r.height() };
  });
  expect(Math.abs(centred.cx - (box.x + box.w / 2))).toBeLessThan(box.w / 2);
  expect(Math.abs(centred.cy - (box.y + box.h / 2))).toBeLessThan(box.h / 2);

  // Clearing removes the heatmap layer.
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:clear-analysis'));
  expect(await heatmapPixels(page)).toBe(-1);
});

test('an analysis can be cancelled and leaves nothing behind', async ({ page, tmpPath }) => {
  const panel = await openSample(page, tmpPath);
  // Start, and cancel as soon as it runs (the run itself is only seconds long here).
  const states = await page.evaluate(async () => {
    const app = (window as any).jupyterapp;
    const seen: string[] = [];
    const node = app.shell.currentWidget.content.node as HTMLElement;
    const observer = new MutationObserver(() => seen.push(node.dataset.ugaAnalysis ?? ''));
    observer.observe(node, { attributes: true, attributeFilter: ['data-uga-analysis'] });
    const run = app.commands.execute('uga:analyze-view', { backend: 'wasm', samples: 20 });
    await new Promise(r => setTimeout(r, 0));
    const progress = node.querySelector('.jp-uga-Analysis-progress') as HTMLElement;
    const progressShown = progress.style.display !== 'none';
    (progress.querySelector('.jp-uga-Analysis-cancel') as HTMLButtonElement).click();
    await run;
    observer.disconnect();
    return { seen, progressShown };
  });
  expect(states.progressShown).toBe(true);
  expect(states.seen).toEqual(['running', 'cancelled']);
  await expect(panel).toHaveAttribute('data-uga-analysis', 'cancelled');
  await expect(panel.getByText('Analysis cancelled.')).toBeVisible();
  await expect(panel.locator('.jp-uga-Analysis-progress')).toBeHidden();
  expect(await heatmapPixels(page)).toBe(-1);

  // A new run after a cancel completes normally.
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:analyze-view', { backend: 'wasm', samples: 4 }));
  await expect(panel).toHaveAttribute('data-uga-analysis', 'done', { timeout: 120000 });
});

test('a missing model gives a clear message', async ({ page, tmpPath }) => {
  const panel = await openSample(page, tmpPath);
  await page.evaluate(() => {
    const panel = (window as any).jupyterapp.shell.currentWidget.content;
    panel.updateSettings({ modelPath: 'no/such/model.json' });
  });
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:analyze-view', { backend: 'wasm' }));
  await expect(panel).toHaveAttribute('data-uga-analysis', 'error', { timeout: 60000 });
  const alert = panel.getByRole('alert');
  await expect(alert).toContainText('Uncertainty analysis failed');
  await expect(alert).toContainText(/model/i);
});
