import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const SAMPLE = path.join(ROOT, 'jupyterlab_uga', 'sample', 'CMU-1-Small-Region.svs');
const PANEL = '.jp-MainAreaWidget:not(.lm-mod-hidden) .jp-uga-SlidePanel';

async function analysedSample(page: IJupyterLabPageFixture, tmpPath: string) {
  await page.contents.uploadFile(SAMPLE, `${tmpPath}/sample.svs`);
  await page.evaluate(p => (window as any).jupyterapp.commands.execute('uga:open-slide', { path: p }), `${tmpPath}/sample.svs`);
  const panel = page.locator(PANEL);
  await expect(panel).toHaveAttribute('data-uga-status', 'ready', { timeout: 60000 });
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:zoom-fit'));
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:analyze-view', { backend: 'wasm', samples: 4 }));
  await expect(panel).toHaveAttribute('data-uga-analysis', 'done', { timeout: 180000 });
  return panel;
}

/** Pixels of the editor's mask with a given label. */
async function maskCount(page: IJupyterLabPageFixture, label: number): Promise<number> {
  return page.evaluate(label => {
    const editor = (window as any).jupyterapp.shell.currentWidget.content.mainWidget;
    const data: Uint8Array = editor.model.mask.data;
    let n = 0;
    for (let i = 0; i < data.length; i++) {
      n += data[i] === label ? 1 : 0;
    }
    return n;
  }, label);
}

test('review the queue: correct rank 1 with the brush (undo, paint again, accept), skip rank 2', async ({ page, tmpPath }) => {
  const panel = await analysedSample(page, tmpPath);
  const rows = panel.locator('[data-uga-suggestion]');
  expect(await rows.count()).toBeGreaterThanOrEqual(5);
  await expect(panel.locator('canvas[data-uga-thumb="ready"]')).toHaveCount(await rows.count());

  // Double-click opens rank 1 in the editor, in place of the viewer.
  await rows.first().dblclick();
  const editor = panel.locator('[data-uga-editor]');
  await expect(editor).toBeVisible();
  await expect(editor).toHaveAttribute('data-uga-tool', 'brush');
  // Paint ignore (255) so the stroke is countable whatever the prediction was.
  await editor.locator('[data-uga-label="255"]').click();
  const before = await maskCount(page, 255);
  const stage = editor.locator('.jp-uga-CorrectionEditor-stage');
  const box = (await stage.boundingBox())!;
  const stroke = async (y: number) => {
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * y, { steps: 8 });
    await page.mouse.up();
  };
  await stroke(0.5);
  await expect(editor).toHaveAttribute('data-uga-dirty', 'true');
  const painted = await maskCount(page, 255);
  expect(painted).toBeGreaterThan(before + 100);
  // Undo (Ctrl+Z through the JupyterLab shortcut) restores the mask exactly.
  await editor.focus();
  await page.keyboard.press('Control+z');
  await expect.poll(() => maskCount(page, 255)).toBe(before);
  await stroke(0.6);
  expect(await maskCount(page, 255)).toBeGreaterThan(before + 100);
  await page.screenshot({ path: path.join(ROOT, 'docs', 'screenshots', 'editor.png') });
  await editor.locator('[data-uga-action="accept"]').click();
  await expect(editor).toHaveCount(0);
  await expect(rows.first()).toHaveAttribute('data-uga-state', 'corrected');
  const accepted = await page.evaluate(() => {
    const item = (window as any).jupyterapp.shell.currentWidget.content.session.review.item(1);
    let n = 0;
    for (const v of item.correction.mask) {
      n += v === 255 ? 1 : 0;
    }
    return { n, size: item.correction.patchSize, len: item.correction.mask.length };
  });
  expect(accepted.len).toBe(accepted.size * accepted.size);
  expect(accepted.n).toBeGreaterThan(before + 100);

  // Skip rank 2 from the queue.
  await rows.nth(1).click();
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:skip-suggestion', { rank: 2 }));
  await expect(rows.nth(1)).toHaveAttribute('data-uga-state', 'skipped');
  await expect(panel.locator('.jp-uga-SuggestionQueue-title')).toContainText('2 reviewed');
  await page.screenshot({ path: path.join(ROOT, 'docs', 'screenshots', 'panel-queue.png') });
});

test('Escape leaves the editor without changes once the discard is confirmed', async ({ page, tmpPath }) => {
  const panel = await analysedSample(page, tmpPath);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:correct-suggestion', { rank: 1 }));
  const editor = panel.locator('[data-uga-editor]');
  await expect(editor).toBeVisible();
  const stage = editor.locator('.jp-uga-CorrectionEditor-stage');
  const box = (await stage.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.6, { steps: 6 });
  await page.mouse.up();
  await editor.focus();
  await page.keyboard.press('Escape');
  // Unsaved strokes: JupyterLab asks first.
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: /discard|leave/i }).click();
  await expect(editor).toHaveCount(0);
  await expect(panel.locator('[data-uga-suggestion="1"]')).toHaveAttribute('data-uga-state', 'suggested');
});
