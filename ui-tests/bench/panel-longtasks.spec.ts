// make bench-panel: main-thread long tasks in the real slide panel (JupyterLab,
// headless Chromium) during one whole analysis of the sample slide and the
// drawing of its result (overlays, queue thumbnails, workspace writes), with a
// CPU profile of the page's main thread naming where the long tasks go.
// Not a test: it prints figures (see docs/benchmarks.md) and asserts nothing.
import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const SAMPLE = path.join(ROOT, 'jupyterlab_uga', 'sample', 'CMU-1-Small-Region.svs');
const PANEL = '.jp-MainAreaWidget:not(.lm-mod-hidden) .jp-uga-SlidePanel';
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 20);
const BACKEND = process.env.BENCH_BACKEND ?? 'wasm';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

test('panel long tasks during a whole analysis', async ({ page, tmpPath }) => {
  test.setTimeout(900000);
  const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join('/');
  const loadBefore = load();
  await page.contents.uploadFile(SAMPLE, `${tmpPath}/sample.svs`);
  await page.evaluate(p => (window as any).jupyterapp.commands.execute('uga:open-slide', { path: p }), `${tmpPath}/sample.svs`);
  const panel = page.locator(PANEL);
  await expect(panel).toHaveAttribute('data-uga-status', 'ready', { timeout: 60000 });
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('uga:zoom-fit'));
  await page.waitForTimeout(2000);
  await page.evaluate(() => {
    const w = window as any;
    w.__longTasks = [];
    new PerformanceObserver(list => {
      for (const e of list.getEntries()) {
        w.__longTasks.push({ start: e.startTime, duration: e.duration });
      }
    }).observe({ type: 'longtask', buffered: false });
  });
  const cdp = await page.context().newCDPSession(page.page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 1000 });
  await cdp.send('Profiler.start');
  const t0 = await page.evaluate(() => performance.now());
  await page.evaluate(([backend, samples]) => (window as any).jupyterapp.commands.execute('uga:analyze-view', { backend, samples }), [
    BACKEND,
    SAMPLES
  ] as const);
  await expect(panel).toHaveAttribute('data-uga-analysis', 'done', { timeout: 900000 });
  const tDone = await page.evaluate(() => performance.now());
  // What follows a result: overlays, thumbnails, the workspace write.
  await expect(panel.locator('canvas[data-uga-thumb="ready"]').first()).toBeVisible({ timeout: 60000 });
  await page.waitForTimeout(3000);
  const { profile } = (await cdp.send('Profiler.stop')) as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
  const tasks: { start: number; duration: number }[] = await page.evaluate(() => (window as any).__longTasks);

  const summary = (list: typeof tasks) => ({
    count: list.length,
    longest: list.reduce((m, t) => Math.max(m, t.duration), 0),
    blocking: list.reduce((s, t) => s + Math.max(0, t.duration - 50), 0)
  });
  const during = summary(tasks.filter(t => t.start < tDone));
  const after = summary(tasks.filter(t => t.start >= tDone));

  // Self time per function, counted only in samples that fall inside a long task.
  const byId = new Map(profile.nodes.map(n => [n.id, n]));
  const self = new Map<string, number>();
  let ts = 0;
  // Samples are placed on the page clock from t0 (read right after Profiler.start; off by a few ms at most).
  const pageNowAtStart = t0;
  for (let i = 0; i < profile.samples.length; i++) {
    ts += profile.timeDeltas[i];
    const at = pageNowAtStart + ts / 1000;
    if (!tasks.some(t => at >= t.start && at <= t.start + t.duration)) {
      continue;
    }
    const n = byId.get(profile.samples[i]);
    if (!n) {
      continue;
    }
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + profile.timeDeltas[i] / 1000);
  }
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20);
  console.log(`analysis ${((tDone - t0) / 1000).toFixed(1)} s, ${BACKEND}, T = ${SAMPLES}`);
  console.log(
    `during analysis: ${during.count} long tasks, longest ${during.longest.toFixed(0)} ms, blocking ${during.blocking.toFixed(0)} ms`
  );
  console.log(
    `after the result (overlays, queue, writes): ${after.count} long tasks, longest ${after.longest.toFixed(0)} ms, blocking ${after.blocking.toFixed(0)} ms`
  );
  console.log('main-thread self time inside long tasks (ms):');
  for (const [k, v] of top) {
    console.log(`  ${v.toFixed(0).padStart(6)}  ${k}`);
  }
  console.log(
    `analysis_s=${((tDone - t0) / 1000).toFixed(1)} longest_during_ms=${during.longest.toFixed(0)} blocking_during_ms=${during.blocking.toFixed(0)} longest_after_ms=${after.longest.toFixed(0)} blocking_after_ms=${after.blocking.toFixed(0)} long_tasks=${tasks.length} loadavg_before=${loadBefore} loadavg_after=${load()}`
  );
});
