/**
 * What the page's main-thread long tasks are made of: a Chromium trace of
 * the page during one whole analysis (`bench-engine-browser.sh --profile`),
 * with the V8 sampling profiler on the same clock. For each task of the
 * renderer's main thread over 50 ms: the trace events inside it (GC, script
 * evaluation, message handling...) and the JS functions with the most
 * samples in it.
 */
import type { Browser, Page } from 'playwright';

export interface TaskProfile {
  /** Start, ms from the trace's first task, and duration in ms. */
  at: number;
  ms: number;
  /** Trace events nested in the task, by name: total ms. */
  events: [string, number][];
  /** JS functions by self time (sampled), ms. */
  self: [string, number][];
}

const CATEGORIES = [
  'devtools.timeline',
  'disabled-by-default-devtools.timeline',
  'v8',
  'v8.execute',
  'disabled-by-default-v8.gc',
  'disabled-by-default-v8.cpu_profiler'
];

/** Start tracing (call before the page's __go()); the returned function stops and analyses. */
export async function startProfile(browser: Browser, page: Page): Promise<() => Promise<TaskProfile[]>> {
  await browser.startTracing(page, { categories: CATEGORIES });
  return async () => {
    const buf = await browser.stopTracing();
    if (process.env.UGA_TRACE_OUT) {
      // Keep the raw trace (chrome://tracing, Perfetto) when asked.
      (await import('fs')).writeFileSync(process.env.UGA_TRACE_OUT, buf);
    }
    return longTasks(JSON.parse(buf.toString('utf8')));
  };
}

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  id?: string;
  args?: Record<string, any>;
}

interface ProfileNode {
  id: number;
  parent?: number;
  callFrame: { functionName: string; url: string; lineNumber?: number };
}

function label(n: ProfileNode | undefined): string {
  if (!n) {
    return '?';
  }
  const f = n.callFrame;
  const file = f.url ? f.url.slice(f.url.lastIndexOf('/') + 1) : '';
  return `${f.functionName || '(anonymous)'}${file ? ` ${file}:${(f.lineNumber ?? 0) + 1}` : ''}`;
}

function top(m: Map<string, number>, k: number): [string, number][] {
  return [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([name, us]) => [name, Math.round(us / 1000)] as [string, number]);
}

/** Tasks of the page's main thread over `minMs`, longest first. */
export function longTasks(trace: { traceEvents: TraceEvent[] } | TraceEvent[], minMs = 50, k = 8): TaskProfile[] {
  const events = Array.isArray(trace) ? trace : trace.traceEvents;
  const mains = events.filter(e => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  const isTask = (e: TraceEvent) => e.ph === 'X' && (e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask');
  // The page's main thread: the renderer main thread with the most tasks.
  let main: TraceEvent | undefined;
  let most = -1;
  for (const m of mains) {
    const n = events.filter(e => e.pid === m.pid && e.tid === m.tid && isTask(e)).length;
    if (n > most) {
      most = n;
      main = m;
    }
  }
  if (!main) {
    return [];
  }
  const onMain = events.filter(e => e.pid === main!.pid && e.tid === main!.tid);
  const tasks = onMain.filter(isTask).sort((a, b) => a.ts - b.ts);
  const t0 = tasks[0]?.ts ?? 0;

  // Samples of the V8 profiler, on the trace clock.
  const nodes = new Map<number, ProfileNode>();
  const samples: { ts: number; node: number }[] = [];
  // The main thread's Profile event names the id its ProfileChunks (sent from V8's profiler thread) carry.
  const ids = new Set(events.filter(e => e.name === 'Profile' && e.pid === main!.pid && e.tid === main!.tid).map(e => String(e.id)));
  const profiles = events.filter(e => e.pid === main!.pid && (e.name === 'Profile' || e.name === 'ProfileChunk') && ids.has(String(e.id)));
  const clock = new Map<string, number>();
  for (const e of profiles) {
    const data = e.args?.data ?? {};
    const key = `${e.id}`;
    if (e.name === 'Profile') {
      clock.set(key, data.startTime ?? e.ts);
      continue;
    }
    for (const n of (data.cpuProfile?.nodes ?? []) as ProfileNode[]) {
      nodes.set(n.id, n);
    }
    const sampleIds: number[] = data.cpuProfile?.samples ?? [];
    const deltas: number[] = data.timeDeltas ?? [];
    let t = clock.get(key) ?? e.ts;
    for (let i = 0; i < sampleIds.length; i++) {
      t += deltas[i] ?? 0;
      samples.push({ ts: t, node: sampleIds[i] });
    }
    clock.set(key, t);
  }
  samples.sort((a, b) => a.ts - b.ts);

  const out: TaskProfile[] = [];
  for (const task of tasks) {
    if ((task.dur ?? 0) < minMs * 1000) {
      continue;
    }
    const end = task.ts + task.dur!;
    const inner = new Map<string, number>();
    for (const e of onMain) {
      if (e !== task && e.ph === 'X' && e.ts >= task.ts && e.ts < end && !isTask(e) && e.dur) {
        inner.set(e.name, (inner.get(e.name) ?? 0) + e.dur);
      }
    }
    const self = new Map<string, number>();
    let lo = 0;
    let hi = samples.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (samples[mid].ts < task.ts) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    for (let i = lo; i < samples.length && samples[i].ts < end; i++) {
      const dt = (samples[i + 1]?.ts ?? samples[i].ts) - samples[i].ts;
      const name = label(nodes.get(samples[i].node));
      if (name !== '(idle)') {
        self.set(name, (self.get(name) ?? 0) + Math.min(dt, end - samples[i].ts));
      }
    }
    out.push({ at: Math.round((task.ts - t0) / 1000), ms: Math.round(task.dur! / 1000), events: top(inner, k), self: top(self, k) });
  }
  return out.sort((a, b) => b.ms - a.ms);
}
