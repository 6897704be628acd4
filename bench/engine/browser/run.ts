/**
 * Drives headless Chromium over the benchmark page (bench-engine-browser.sh
 * starts the servers): per configuration one whole analysis of the sample
 * slide, then the main thread's long tasks.
 *   run.ts BASE_URL BASE_URL_ISOLATED SAMPLES [--configs main,worker,isolated] [--slide NAME] [--profile]
 *          [--repeat N] [--baseline NAME URL,URL_ISOLATED] [--session ANALYSES,PANS] [--region x,y,w,h]
 * --profile: a CPU profile of the page per configuration, and what its long tasks spent time in.
 * --baseline: the same configurations on a page built from another revision, each run right
 *   before the current one (rows named NAME), so load hits both alike.
 * --session: a long session per configuration (session.ts) instead of one analysis.
 */
import * as os from 'os';
import { chromium } from 'playwright';
import { startProfile, TaskProfile } from './profile';
import type { SessionResult, SessionSnapshot } from './session';

interface RunOptions {
  profile: boolean;
}

async function runOne(url: string, opts: RunOptions): Promise<Record<string, unknown>> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--enable-precise-memory-info', '--js-flags=--expose-gc']
  });
  try {
    const page = await browser.newPage();
    page.on('pageerror', e => console.log(`page error: ${e.message}`));
    page.on('console', m => {
      if (m.type() === 'error' || m.type() === 'warning') {
        console.log(`page ${m.type()}: ${m.text()}`);
      }
    });
    await page.goto(opts.profile ? url + '&hold=1' : url);
    let stop: (() => Promise<TaskProfile[]>) | null = null;
    if (opts.profile) {
      await page.waitForFunction(() => typeof (window as unknown as { __go?: unknown }).__go === 'function');
      stop = await startProfile(browser, page);
      await page.evaluate(() => (window as unknown as { __go: () => void }).__go());
    }
    await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, null, {
      timeout: 900000,
      polling: 500
    });
    const result = (await page.evaluate(() => (window as unknown as { __result: Record<string, unknown> }).__result)) as Record<
      string,
      unknown
    >;
    if (stop) {
      result.profile = await stop();
    }
    return result;
  } finally {
    await browser.close();
  }
}

function printProfile(name: string, tasks: TaskProfile[]): void {
  console.log(`\nprofile of ${name}: ${tasks.length} main-thread tasks >= 50 ms in the trace`);
  for (const t of tasks.slice(0, 12)) {
    console.log(`  task ${t.ms} ms at ${t.at} ms`);
    console.log(`    trace events: ${t.events.map(([f, ms]) => `${f} ${ms}`).join(' | ')}`);
    console.log(`    JS self time: ${t.self.map(([f, ms]) => `${f} ${ms}`).join(' | ')}`);
  }
}

function mib(v: unknown): string {
  return v === null || v === undefined ? '-' : (Number(v) / 1048576).toFixed(1);
}

function printSession(name: string, r: Record<string, unknown>): string[] {
  const session = r.session as SessionResult;
  console.log(
    `\nlong session, ${name}: ${session.analysisSeconds.length} analyses, ${session.panMs.length} pans, ${session.tilesRead} tiles decoded`
  );
  console.log(
    '| when | analyses | pans | worker tensors | worker tensor MiB | worker WASM heap MiB | page JS heap MiB | slide cache MiB | viewer cache MiB (tiles) | open bitmaps |'
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const x of session.snapshots) {
    console.log(
      `| ${x.label} | ${x.analyses} | ${x.pans} | ${x.workerTensors ?? '-'} | ${mib(x.workerTensorBytes)} | ${mib(x.workerWasmHeapBytes)} | ${mib(x.pageHeapBytes)} | ${mib(x.sourceCacheBytes)} | ${mib(x.viewerCacheBytes)} (${x.viewerCacheTiles}) | ${x.openBitmaps} |`
    );
  }
  const a = session.analysisSeconds;
  const sorted = [...session.panMs].sort((p, q) => p - q);
  console.log(
    `analysis s: first ${a[0].toFixed(1)}, median ${[...a].sort((p, q) => p - q)[Math.floor(a.length / 2)].toFixed(1)}, last ${a[a.length - 1].toFixed(1)}; pan ms median ${sorted[Math.floor(sorted.length / 2)].toFixed(0)}, p95 ${sorted[Math.floor(sorted.length * 0.95)].toFixed(0)}; longest main-thread task ${Number(r.longestTaskMs).toFixed(0)} ms over the session`
  );
  const first = session.snapshots.find(x => x.label === 'after warm-up')!;
  const end = session.snapshots[session.snapshots.length - 1];
  const d = (k: keyof SessionSnapshot) => (end[k] === null || first[k] === null ? 'na' : String(Number(end[k]) - Number(first[k])));
  return [
    `session_tensor_growth=${d('workerTensors')}`,
    `session_wasm_heap_growth_bytes=${d('workerWasmHeapBytes')}`,
    `session_page_heap_growth_bytes=${d('pageHeapBytes')}`,
    `session_source_cache_growth_bytes=${d('sourceCacheBytes')}`,
    `session_viewer_cache_growth_bytes=${d('viewerCacheBytes')}`,
    `session_open_bitmaps=${end.openBitmaps}`
  ];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const [base, isolated, samples] = argv;
  const flag = (name: string, k = 1) => {
    const i = argv.indexOf(name);
    return i < 0 ? undefined : argv[i + k];
  };
  const opts: RunOptions = { profile: argv.includes('--profile') };
  const wanted = (flag('--configs') ?? 'main,worker,isolated').split(',');
  const repeat = Number(flag('--repeat') ?? 1);
  const session = flag('--session');
  let q = `backend=wasm&samples=${samples}&slide=${encodeURIComponent(flag('--slide') ?? 'CMU-1-Small-Region.svs')}`;
  if (argv.includes('--compare-decode')) {
    q += '&compare=1';
  }
  if (flag('--region')) {
    q += `&region=${flag('--region')}`;
  }
  if (session) {
    // Small budgets, so that both caches evict all session long.
    q += `&session=${session}&sourceCache=${8 * 1048576}&viewerCache=${8 * 1048576}`;
  }
  const pages: [string, string, string][] = [['', base, isolated]];
  const baseline = flag('--baseline');
  if (baseline) {
    const [b, bi] = flag('--baseline', 2)!.split(',');
    pages.unshift([`${baseline}: `, b, bi]);
  }
  const configs: [string, string][] = [];
  for (let k = 0; k < repeat; k++) {
    for (const c of ['main', 'worker', 'isolated'].filter(c => wanted.includes(c))) {
      for (const [prefix, b, bi] of pages) {
        const name = {
          main: 'main thread, wasm, 1 thread',
          worker: 'worker, wasm, 1 thread',
          isolated: 'worker, wasm, isolated (N threads)'
        }[c]!;
        const url = `${c === 'isolated' ? bi : b}/index.html?worker=${c === 'main' ? 0 : 1}&${q}`;
        configs.push([prefix + name, url]);
      }
    }
  }
  console.log(
    `| configuration | backend | ${session ? 'session' : 'analysis'} s | tiles | longest main-thread task ms | total blocking ms | long tasks | isolated | WASM threads | cores |`
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
  const kv: string[] = [];
  const profiles: [string, TaskProfile[]][] = [];
  const sessions: [string, Record<string, unknown>][] = [];
  const afters: [string, [string, number][]][] = [];
  for (const [name, url] of configs) {
    const r = await runOne(url, opts);
    if (r.error) {
      console.log(`| ${name} | error: ${String(r.error).slice(0, 300)} |`);
      continue;
    }
    const n = (v: unknown) => Number(v).toFixed(0);
    console.log(
      `| ${name} | ${r.backend} | ${Number(r.seconds).toFixed(1)} | ${r.tiles} | ${n(r.longestTaskMs)} | ${n(r.totalBlockingMs)} | ${r.longTasks} | ${r.crossOriginIsolated} | ${r.wasmThreads ?? '?'} | ${r.hardwareConcurrency} |`
    );
    if (r.profile) {
      profiles.push([name, r.profile as TaskProfile[]]);
      console.log(`  long tasks [start ms, ms]: ${JSON.stringify(r.tasks)}`);
    }
    if (r.decodeCheck) {
      const d = r.decodeCheck as { same: boolean; pageMs: number; workersMs: number };
      console.log(
        `  decode check: same pixels ${d.same}; page decoders ${d.pageMs.toFixed(0)} ms, pool workers ${d.workersMs.toFixed(0)} ms`
      );
    }
    if (r.after) {
      afters.push([name, r.after as [string, number][]]);
    }
    if (r.session) {
      sessions.push([name, r]);
    }
    const key = name.replace(/[^a-z0-9]+/gi, '_').replace(/_+$/, '');
    kv.push(
      `${key}_s=${Number(r.seconds).toFixed(1)}`,
      `${key}_longest_task_ms=${n(r.longestTaskMs)}`,
      `${key}_tbt_ms=${n(r.totalBlockingMs)}`
    );
  }
  for (const [name, p] of profiles) {
    printProfile(name, p);
  }
  if (afters.length > 0) {
    // Not part of analyzeRegion: what src/analysis and src/widgets then do on the page's thread.
    console.log(`\nafter the analysis, the panel's main-thread steps (ms, one task each):`);
    console.log(`| configuration | ${afters[0][1].map(([s]) => s).join(' | ')} |`);
    console.log(`| --- |${afters[0][1].map(() => ' ---: |').join('')}`);
    for (const [name, steps] of afters) {
      console.log(`| ${name} | ${steps.map(([, ms]) => ms.toFixed(0)).join(' | ')} |`);
    }
  }
  for (const [name, r] of sessions) {
    kv.push(...printSession(name, r));
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
