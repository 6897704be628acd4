/**
 * Drives headless Chromium over the benchmark page (bench-engine-browser.sh
 * starts the servers): per configuration one whole analysis of the sample
 * slide, then the main thread's long tasks. Args: BASE_URL BASE_URL_ISOLATED SAMPLES
 */
import * as os from 'os';
import { chromium } from 'playwright';

async function runOne(url: string): Promise<Record<string, unknown>> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox']
  });
  try {
    const page = await browser.newPage();
    page.on('pageerror', e => console.log(`page error: ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, null, {
      timeout: 900000,
      polling: 500
    });
    return (await page.evaluate(() => (window as unknown as { __result: Record<string, unknown> }).__result)) as Record<string, unknown>;
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  const [base, isolated, samples] = process.argv.slice(2);
  const configs: [string, string][] = [
    ['main thread, wasm, 1 thread', `${base}/index.html?worker=0&backend=wasm&samples=${samples}`],
    ['worker, wasm, 1 thread', `${base}/index.html?worker=1&backend=wasm&samples=${samples}`],
    ['worker, wasm, isolated (N threads)', `${isolated}/index.html?worker=1&backend=wasm&samples=${samples}`]
  ];
  console.log(
    `| configuration | backend | analysis s | tiles | longest main-thread task ms | total blocking ms | long tasks | isolated | cores |`
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
  const kv: string[] = [];
  for (const [name, url] of configs) {
    const r = await runOne(url);
    if (r.error) {
      console.log(`| ${name} | error: ${String(r.error).slice(0, 300)} |`);
      continue;
    }
    const n = (v: unknown) => Number(v).toFixed(0);
    console.log(
      `| ${name} | ${r.backend} | ${Number(r.seconds).toFixed(1)} | ${r.tiles} | ${n(r.longestTaskMs)} | ${n(r.totalBlockingMs)} | ${r.longTasks} | ${r.crossOriginIsolated} | ${r.hardwareConcurrency} |`
    );
    const key = name.replace(/[^a-z0-9]+/gi, '_').replace(/_+$/, '');
    kv.push(
      `${key}_s=${Number(r.seconds).toFixed(1)}`,
      `${key}_longest_task_ms=${n(r.longestTaskMs)}`,
      `${key}_tbt_ms=${n(r.totalBlockingMs)}`
    );
  }
  console.log(
    `samples=${samples} ${kv.join(' ')} loadavg=${os
      .loadavg()
      .map(v => v.toFixed(2))
      .join('/')}`
  );
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
