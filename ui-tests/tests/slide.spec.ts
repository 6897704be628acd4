import { expect, galata, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const DATA = process.env.UGA_DATA ?? path.resolve(ROOT, '..', 'shared', 'data');
const SLIDES_DIR = path.join(DATA, 'slides');
const SAMPLE = path.join(ROOT, 'jupyterlab_uga', 'sample', 'CMU-1-Small-Region.svs');
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
const GRID = 3;

const SHARED_SLIDES = [
  'CMU-1-Small-Region.svs',
  'TCGA-CR-7395-01A-01-TS1.svs',
  'OS-1-detail.ome.tif',
  'OS-2-ndpi.ome.tif',
  'OS-2-vsi.ome.tif',
  'boxes.tiff'
];

interface Reference {
  width: number;
  height: number;
  cells: number[][];
}

function reference(file: string): Reference {
  const out = execFileSync(PYTHON, [path.join(__dirname, '..', 'reference_colours.py'), file, String(GRID)]);
  return JSON.parse(out.toString());
}

const PANEL = '.jp-uga-SlidePanel';

async function openByDoubleClick(page: IJupyterLabPageFixture, tmpPath: string, name: string) {
  await page.filebrowser.openDirectory(tmpPath);
  await page.locator(`.jp-DirListing-item[title*="${name}"]`).first().dblclick();
  const panel = page.locator(`.jp-MainAreaWidget:not(.lm-mod-hidden) ${PANEL}`);
  await expect(panel).toHaveAttribute('data-uga-status', /ready|error/, { timeout: 90000 });
  if (!/corrupt|truncated/.test(name) && (await panel.getAttribute('data-uga-status')) === 'error') {
    throw new Error(`${name} did not open: ${await panel.getByRole('alert').textContent()}`);
  }
  return panel;
}

/** View transform, image size and the mean colours the canvas shows in each reference cell. */
async function canvasCells(page: IJupyterLabPageFixture, grid: number) {
  return page.evaluate(grid => {
    const app = (window as any).jupyterapp;
    const panel = app.shell.currentWidget.content;
    const viewer = panel.viewer;
    const view = viewer.view;
    const { width, height } = panel.source.info;
    const canvas = panel.node.querySelector('.jp-uga-SlideViewer-stage canvas') as HTMLCanvasElement;
    const ctx = canvas.getContext('2d')!;
    const ratio = canvas.width / viewer.stage.width();
    const cells: number[][] = [];
    let painted = 0;
    let total = 0;
    for (let j = 0; j < grid; j++) {
      for (let i = 0; i < grid; i++) {
        // Inner 60% of the cell, away from edges where resampling blurs.
        const x0 = ((i + 0.2) * width) / grid;
        const x1 = ((i + 0.8) * width) / grid;
        const y0 = ((j + 0.2) * height) / grid;
        const y1 = ((j + 0.8) * height) / grid;
        const sx = Math.round((x0 - view.x) * view.scale * ratio);
        const sy = Math.round((y0 - view.y) * view.scale * ratio);
        const sw = Math.max(1, Math.round((x1 - x0) * view.scale * ratio));
        const sh = Math.max(1, Math.round((y1 - y0) * view.scale * ratio));
        const d = ctx.getImageData(sx, sy, sw, sh).data;
        const sum = [0, 0, 0];
        for (let k = 0; k < d.length; k += 4) {
          total++;
          if (d[k + 3] > 0) {
            painted++;
          }
          sum[0] += d[k];
          sum[1] += d[k + 1];
          sum[2] += d[k + 2];
        }
        const n = d.length / 4;
        cells.push(sum.map(v => v / n));
      }
    }
    return { view, width, height, cells, paintedFraction: painted / total };
  }, grid);
}

async function statusLine(page: IJupyterLabPageFixture) {
  return page.locator(`${PANEL} .jp-uga-SlidePanel-status`).first().textContent();
}

for (const name of SHARED_SLIDES) {
  test(`opens ${name} by double-click and renders its colours`, async ({ page, tmpPath }) => {
    const file = name === 'CMU-1-Small-Region.svs' ? SAMPLE : path.join(SLIDES_DIR, name);
    test.skip(!fs.existsSync(file), `${file} not available (set UGA_DATA)`);
    await page.contents.uploadFile(file, `${tmpPath}/${name}`);
    const panel = await openByDoubleClick(page, tmpPath, name);
    await expect(panel).toHaveAttribute('data-uga-status', 'ready');

    const ref = reference(file);
    const shown = await canvasCells(page, GRID);
    expect(shown.width).toBe(ref.width);
    expect(shown.height).toBe(ref.height);
    // Tiles drew: every sampled pixel is painted, and colours match the file's.
    expect(shown.paintedFraction).toBe(1);
    for (let c = 0; c < ref.cells.length; c++) {
      for (let ch = 0; ch < 3; ch++) {
        expect(Math.abs(shown.cells[c][ch] - ref.cells[c][ch])).toBeLessThan(12);
      }
    }
    await expect(panel.locator('.jp-uga-SlidePanel-status')).toContainText('Level');
  });
}

test('zooms and pans with keys and the mouse', async ({ page, tmpPath }) => {
  await page.contents.uploadFile(SAMPLE, `${tmpPath}/sample.svs`);
  const panel = await openByDoubleClick(page, tmpPath, 'sample.svs');
  await expect(panel).toHaveAttribute('data-uga-status', 'ready');
  const before = await canvasCells(page, 1);

  await panel.focus();
  await page.keyboard.press('+');
  await page.keyboard.press('+');
  await page.keyboard.press('+');
  const zoomed = await canvasCells(page, 1);
  expect(zoomed.view.scale).toBeCloseTo(before.view.scale * 1.5 ** 3, 5);

  const box = (await panel.locator('.jp-uga-SlideViewer-stage').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 - 200, box.y + box.height / 2 - 100, { steps: 5 });
  await page.mouse.up();
  const panned = await canvasCells(page, 1);
  expect(panned.view.x - zoomed.view.x).toBeCloseTo(200 / zoomed.view.scale, 0);
  expect(panned.view.y - zoomed.view.y).toBeCloseTo(100 / zoomed.view.scale, 0);
  expect(await statusLine(page)).toMatch(/x \d+, y \d+/);

  // Wheel zooms around the cursor; the palette command fits again.
  await page.mouse.wheel(0, 400);
  const wheeled = await canvasCells(page, 1);
  expect(wheeled.view.scale).toBeLessThan(panned.view.scale);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:zoom-fit'));
  const fitted = await canvasCells(page, 1);
  expect(fitted.view.scale).toBeCloseTo(before.view.scale, 5);

  // The tiles of the new view render (painted, not blank).
  await page.keyboard.press('+');
  await page.keyboard.press('+');
  await page.waitForFunction(() => !/loading/.test(document.querySelector('.jp-uga-SlidePanel-status')?.textContent ?? 'loading'));
  // The middle of the panel is inside the slide at this zoom: every pixel drawn.
  const painted = await page.evaluate(() => {
    const canvas = document.querySelector('.jp-uga-SlideViewer-stage canvas') as HTMLCanvasElement;
    const d = canvas.getContext('2d')!.getImageData(canvas.width / 2 - 50, canvas.height / 2 - 50, 100, 100).data;
    let n = 0;
    for (let k = 3; k < d.length; k += 4) {
      n += d[k] > 0 ? 1 : 0;
    }
    return n / (d.length / 4);
  });
  expect(painted).toBe(1);
});

test('offers the viewer for PNG through Open With and the open-slide command', async ({ page, tmpPath }) => {
  const png = path.join(os.tmpdir(), 'uga-test.png');
  // A 64 x 32 PNG: left half red, right half blue (written with Pillow).
  execFileSync(PYTHON, [
    '-c',
    `from PIL import Image; im = Image.new('RGB', (64, 32), (220, 20, 20)); im.paste((20, 20, 220), (32, 0, 64, 32)); im.save(${JSON.stringify(png)})`
  ]);
  await page.contents.uploadFile(png, `${tmpPath}/two.png`);
  await page.evaluate(p => (window as any).jupyterapp.commands.execute('uga:open-slide', { path: p }), `${tmpPath}/two.png`);
  const panel = page.locator(`.jp-MainAreaWidget:not(.lm-mod-hidden) ${PANEL}`);
  await expect(panel).toHaveAttribute('data-uga-status', 'ready', { timeout: 60000 });
  const shown = await canvasCells(page, 2);
  expect(shown.cells[0][0]).toBeGreaterThan(180);
  expect(shown.cells[0][2]).toBeLessThan(60);
  expect(shown.cells[1][2]).toBeGreaterThan(180);
  expect(shown.cells[1][0]).toBeLessThan(60);

  await page.filebrowser.openDirectory(tmpPath);
  await page.locator('.jp-DirListing-item[title*="two.png"]').first().click({ button: 'right' });
  await page.getByText('Open With').hover();
  await expect(page.locator('.lm-Menu-itemLabel', { hasText: 'Slide viewer' })).toBeVisible();
});

test('shows a readable error for a corrupt and a truncated slide', async ({ page, tmpPath }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uga-bad-'));
  fs.writeFileSync(path.join(dir, 'corrupt.svs'), 'this is not a TIFF file at all\n'.repeat(100));
  const head = fs.readFileSync(SAMPLE).subarray(0, 50000);
  fs.writeFileSync(path.join(dir, 'truncated.svs'), head);
  for (const name of ['corrupt.svs', 'truncated.svs']) {
    await page.contents.uploadFile(path.join(dir, name), `${tmpPath}/${name}`);
    const panel = await openByDoubleClick(page, tmpPath, name);
    await expect(panel).toHaveAttribute('data-uga-status', 'error');
    const alert = panel.getByRole('alert');
    await expect(alert).toBeVisible();
    await expect(alert).toContainText(name);
    expect(((await alert.textContent()) ?? '').length).toBeGreaterThan(name.length + 20);
  }
});

test('a slide deleted while open turns into a clear error', async ({ page, tmpPath }) => {
  // A pyramid: zooming in needs level-0 tiles that were never read.
  const file = path.join(SLIDES_DIR, 'TCGA-CR-7395-01A-01-TS1.svs');
  test.skip(!fs.existsSync(file), `${file} not available (set UGA_DATA)`);
  await page.contents.uploadFile(file, `${tmpPath}/gone.svs`);
  const panel = await openByDoubleClick(page, tmpPath, 'gone.svs');
  await expect(panel).toHaveAttribute('data-uga-status', 'ready');
  await page.contents.deleteFile(`${tmpPath}/gone.svs`);
  // Zooming in reads new tiles: they fail with 404.
  await panel.focus();
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press('+');
  }
  await page.keyboard.press('ArrowLeft');
  await expect(panel).toHaveAttribute('data-uga-status', 'error', { timeout: 30000 });
  await expect(panel.getByRole('alert')).toContainText('gone.svs');
});

test('commands are in the palette under Slide', async ({ page }) => {
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('apputils:activate-command-palette'));
  // The palette searches categories too: "slide" lists the whole Slide category.
  await page.keyboard.type('slide');
  await expect(page.locator('.lm-CommandPalette-item[data-command="uga:open-slide"]')).toBeVisible();
  // The category header of the matches reads "Slide".
  const headers = await page.locator('.lm-CommandPalette-header').allTextContents();
  expect(headers.map(h => h.trim().toLowerCase())).toContain('slide');
  // Commands that need an open slide are listed, disabled until one is open.
  for (const id of ['uga:zoom-fit', 'uga:zoom-in', 'uga:analyze-view', 'uga:next-suggestion']) {
    const item = page.locator(`.lm-CommandPalette-item[data-command="${id}"]`);
    await expect(item).toHaveCount(1);
    await expect(item).toHaveClass(/lm-mod-disabled/);
  }
  // Opening a slide needs none open.
  await expect(page.locator('.lm-CommandPalette-item[data-command="uga:open-slide"]')).not.toHaveClass(/lm-mod-disabled/);
  void galata;
});

test('settings are in the Settings Editor and reach open panels', async ({ page, tmpPath }) => {
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('settingeditor:open', { query: 'Slide viewer' }));
  await expect(page.getByText('Slide viewer (UGA)').first()).toBeVisible({ timeout: 30000 });

  // A changed setting applies to a panel that is already open.
  await page.contents.uploadFile(SAMPLE, `${tmpPath}/s.svs`);
  await page.evaluate(p => (window as any).jupyterapp.commands.execute('uga:open-slide', { path: p }), `${tmpPath}/s.svs`);
  const panel = page.locator(`.jp-MainAreaWidget:not(.lm-mod-hidden) ${PANEL}`);
  await expect(panel).toHaveAttribute('data-uga-status', 'ready', { timeout: 60000 });
  await expect(panel.locator('.jp-uga-SlideViewer-overview')).toBeVisible();
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:toggle-overview'));
  await expect(panel.locator('.jp-uga-SlideViewer-overview')).toBeHidden();
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:toggle-overview'));
  await expect(panel.locator('.jp-uga-SlideViewer-overview')).toBeVisible();
});
