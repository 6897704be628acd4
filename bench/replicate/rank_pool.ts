/**
 * The engine side of the replication benchmark (bench/replicate/replicate.py
 * runs it): MC-dropout uncertainty over every pool tile with the project's
 * tfjs engine (wasm backend), then the ranked patches to correct per
 * strategy, through the same functions the JupyterLab UI uses (McDropout,
 * rankPatches).
 *
 *   npx tsx bench/replicate/rank_pool.ts --config job.json --out ranking.json
 *
 * job.json: {
 *   "model": "<tfjs model folder>",
 *   "images": ["<pool tile PNG>", ...],
 *   "samples": 20, "mcSeed": 0,
 *   "patchSize": 224, "stride": 112,        // candidate patches inside a tile (map pixels)
 *   "patchSizes": [112, 224],                // optional: several sizes from one pass (stride size/2 each)
 *   "strategies": ["entropy", "mutual_information", "uga_score", "uga_code", "uga_code_diverse", "random"],
 *   "groups": ["<case id>", ...],            // optional, per image: what uga_code_diverse spreads over
 *   "randomSeeds": [0, 1, 2, 3, 4],          // 'random' gets one ranking per seed
 *   "count": 20,                             // patches kept per ranking
 *   "backend": "wasm"
 * }
 *
 * ranking.json: { "rankings": { "<strategy>": [ {patch...} ] | { "<seed>": [...] } },
 *                 "bySize": { "<size>": <rankings for that size> },   // when patchSizes is given
 *                 "tiles": [{ image, meanEntropy, meanMutualInformation }], "seconds": ... }
 *
 * uga_code is the UGA authors' score 100 * count(u > 0.8 max u) + sum(u) over
 * each patch (suggestPatches, u = normalised entropy). uga_code_diverse is the
 * same score with diversity: rounds over the groups (cases), each round takes
 * the best remaining patch of every group, best groups first, so K patches
 * come from K different cases while there are that many.
 * Each patch: { tile (index into images), image, x, y, width, height, score, rank,
 * meanEntropy, meanMutualInformation, foregroundFraction }.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import { BackendName, initBackend } from '../../src/engine/backends';
import { McDropout, PatchPixels } from '../../src/engine/mcdropout';
import { loadSegmentationModel } from '../../src/engine/model';
import { PatchSuggestion, ScoreStrategy, rankPatches, scorePatch } from '../../src/uncertainty/scoring';
import { suggestPatches } from '../../src/uncertainty/suggestions';

type BenchStrategy = ScoreStrategy | 'uga_code' | 'uga_code_diverse';

interface Job {
  model: string;
  images: string[];
  samples: number;
  mcSeed: number;
  patchSize: number;
  stride?: number;
  patchSizes?: number[];
  strategies: BenchStrategy[];
  groups?: string[];
  /** Also time a T = 1 pass over every chunk, interleaved with the T-sample pass: MC cost in deterministic passes. */
  timeDeterministic?: boolean;
  randomSeeds: number[];
  count: number;
  backend?: BackendName;
  /** Tiles per engine call. */
  chunk?: number;
}

interface Candidate extends PatchSuggestion {
  tile: number;
  image: string;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** fetch over the local file system for tf.io.http. */
const fileFetch = (async (input: RequestInfo | URL) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const file = decodeURIComponent(url.replace(/^file:\/\//, ''));
  if (!fs.existsSync(file)) {
    return new Response('not found', { status: 404 });
  }
  return new Response(fs.readFileSync(file));
}) as typeof fetch;

function readPng(file: string): PatchPixels {
  const png = PNG.sync.read(fs.readFileSync(file));
  return { width: png.width, height: png.height, channels: 4, data: new Uint8Array(png.data) };
}

/** Best first; ties by tile then position so rankings are reproducible. */
function byScore(a: Candidate, b: Candidate): number {
  return b.score - a.score || a.tile - b.tile || a.y - b.y || a.x - b.x;
}

function topK(candidates: Candidate[], count: number): Candidate[] {
  return [...candidates]
    .sort(byScore)
    .slice(0, count)
    .map((c, i) => ({ ...c, rank: i + 1 }));
}

/** Round-robin over groups: round r takes every group's r-th best patch, groups by that patch's score. */
export function diverseTopK(candidates: Candidate[], groupOf: (c: Candidate) => string, count: number): Candidate[] {
  const byGroup = new Map<string, Candidate[]>();
  for (const c of [...candidates].sort(byScore)) {
    const g = groupOf(c);
    byGroup.set(g, [...(byGroup.get(g) ?? []), c]);
  }
  const out: Candidate[] = [];
  for (let round = 0; out.length < count; round++) {
    const layer = [...byGroup.values()].filter(l => l.length > round).map(l => l[round]);
    if (layer.length === 0) {
      break;
    }
    out.push(...layer.sort(byScore));
  }
  return out.slice(0, count).map((c, i) => ({ ...c, rank: i + 1 }));
}

async function main(): Promise<void> {
  const configPath = arg('config');
  const outPath = arg('out');
  if (!configPath || !outPath) {
    throw new Error('usage: rank_pool.ts --config job.json --out ranking.json');
  }
  const job = JSON.parse(fs.readFileSync(configPath, 'utf8')) as Job;
  const t0 = performance.now();
  const backend = await initBackend(job.backend ?? 'wasm');
  const model = await loadSegmentationModel(`file://${path.resolve(job.model, 'model.json')}`, { fetchFunc: fileFetch });
  const mc = new McDropout(model, { samples: job.samples, seed: job.mcSeed });
  const guided = job.strategies.filter(s => s !== 'random' && s !== 'uga_code_diverse');
  const wantRandom = job.strategies.includes('random');
  const wantDiverse = job.strategies.includes('uga_code_diverse');
  if (wantDiverse && !guided.includes('uga_code')) {
    guided.push('uga_code');
  }
  if (job.groups && job.groups.length !== job.images.length) {
    throw new Error(`groups has ${job.groups.length} entries for ${job.images.length} images`);
  }
  const sizes = job.patchSizes ?? [job.patchSize];
  const [tileH, tileW] = model.inputShape;
  const perTileOf = (size: number) => Math.floor(tileH / size) * Math.floor(tileW / size);
  const pooled = new Map<string, Candidate[]>();
  const tiles: { image: string; meanEntropy: number; meanMutualInformation: number }[] = [];
  const chunk = job.chunk ?? 8;
  let lastLog = 0;
  const single = job.timeDeterministic ? new McDropout(model, { samples: 1, seed: job.mcSeed }) : null;
  let mcSeconds = 0;
  let detSeconds = 0;
  for (let start = 0; start < job.images.length; start += chunk) {
    const names = job.images.slice(start, start + chunk);
    const pixels = names.map(readPng);
    if (single) {
      // One sample = prefix + suffix once = the work of a deterministic pass.
      const t = performance.now();
      await single.run(pixels);
      detSeconds += (performance.now() - t) / 1000;
    }
    const tm = performance.now();
    const maps = await mc.run(pixels);
    mcSeconds += (performance.now() - tm) / 1000;
    maps.forEach((m, j) => {
      const tile = start + j;
      const image = names[j];
      tiles.push({ image, meanEntropy: scorePatch(m, 'entropy'), meanMutualInformation: scorePatch(m, 'mutual_information') });
      for (const size of sizes) {
        const add = (key: string, list: PatchSuggestion[]) => {
          const all = pooled.get(`${size}:${key}`) ?? [];
          for (const s of list) {
            all.push({ ...s, tile, image });
          }
          pooled.set(`${size}:${key}`, all);
        };
        // Disjoint candidates per tile: a whole tile gives 1, 112 px in 224 px gives 4.
        const stride = sizes.length > 1 ? size / 2 : (job.stride ?? size / 2);
        const common = { patchSize: size, stride, count: perTileOf(size), foregroundClass: model.metadata.foregroundClass };
        for (const strategy of guided) {
          if (strategy === 'uga_code') {
            add(strategy, suggestPatches(m, { ...common, strategy, minTissue: 0, maxOverlap: 0 }));
          } else {
            add(strategy, rankPatches(m, { ...common, strategy: strategy as ScoreStrategy }));
          }
        }
        if (wantRandom) {
          for (const seed of job.randomSeeds) {
            // One stream per (seed, tile): the draw does not depend on chunking.
            add(`random/${seed}`, rankPatches(m, { ...common, strategy: 'random', seed: seed * 1000003 + tile * 7919 + 17 }));
          }
        }
      }
    });
    const now = performance.now();
    if (now - lastLog > 10000 || start + chunk >= job.images.length) {
      lastLog = now;
      const done = Math.min(start + chunk, job.images.length);
      console.log(`engine: ${done}/${job.images.length} pool tiles, ${((now - t0) / 1000).toFixed(1)} s`);
    }
  }
  const groupOf = (c: Candidate) => (job.groups ? job.groups[c.tile] : String(c.tile));
  const bySize: Record<string, Record<string, Candidate[] | Record<string, Candidate[]>>> = {};
  for (const size of sizes) {
    const r: Record<string, Candidate[] | Record<string, Candidate[]>> = {};
    for (const strategy of job.strategies.filter(s => s !== 'random' && s !== 'uga_code_diverse')) {
      r[strategy] = topK(pooled.get(`${size}:${strategy}`) ?? [], job.count);
    }
    if (wantDiverse) {
      r.uga_code_diverse = diverseTopK(pooled.get(`${size}:uga_code`) ?? [], groupOf, job.count);
    }
    if (wantRandom) {
      const bySeed: Record<string, Candidate[]> = {};
      for (const seed of job.randomSeeds) {
        bySeed[String(seed)] = topK(pooled.get(`${size}:random/${seed}`) ?? [], job.count);
      }
      r.random = bySeed;
    }
    bySize[String(size)] = r;
  }
  const rankings = bySize[String(sizes[0])];
  const size = sizes[0];
  const stride = job.stride ?? size / 2;
  const perTile = perTileOf(size);
  const seconds = (performance.now() - t0) / 1000;
  const out = {
    backend,
    samples: mc.samples,
    cachesPrefix: mc.cachesPrefix,
    patchSize: size,
    stride,
    perTile,
    seconds,
    mcSeconds,
    detSeconds: single ? detSeconds : null,
    rankings,
    bySize,
    tiles
  };
  fs.writeFileSync(outPath, JSON.stringify(out));
  console.log(`engine: done in ${seconds.toFixed(1)} s (${backend}, T=${mc.samples}, prefix cached: ${mc.cachesPrefix})`);
  mc.dispose();
  single?.dispose();
  model.dispose();
}

main().catch(err => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
