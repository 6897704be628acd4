/**
 * Two claims of issue 8, measured against the obvious alternative, rounds
 * interleaved so that load changes hit both contenders alike:
 *
 * 1. Patch suggestions on a big map: `suggestPatches` (box sums from
 *    candidate-column summed-area tables) vs `rankPatches` (scores every
 *    candidate window pixel by pixel), same candidates (stride patch/4),
 *    same K; and the UGA code's score, whose per-patch count is the one
 *    term that scans every candidate's pixels.
 * 2. Painting a 512 x 512 mask: per pointer move, stamping the brush and
 *    recolouring only the dirty rect (what the editor does) vs recolouring
 *    the whole mask each move.
 *
 *   npx tsx bench/suggest/bench.ts [--size 3000] [--patch 256] [--rounds 3] [--moves 400]
 *
 * Prints times, ratios, the load average, and a last key=value line.
 */
import * as os from 'os';
import { emptyMaps } from '../../src/uncertainty/maps';
import { rankPatches, seededRandom } from '../../src/uncertainty/scoring';
import { suggestPatches } from '../../src/uncertainty/suggestions';
import { buildPalette, colorize, createMask, stampSegment } from '../../src/editor/mask';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const SIZE = arg('size', 3000);
const PATCH = arg('patch', 256);
const ROUNDS = arg('rounds', 3);
const MOVES = arg('moves', 400);
const STRIDE = Math.round(PATCH / 4);

function time<T>(f: () => T): [number, T] {
  const t0 = process.hrtime.bigint();
  const r = f();
  return [Number(process.hrtime.bigint() - t0) / 1e6, r];
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

// A smooth random field with a few hot spots, tissue on 80 % of the map.
const maps = emptyMaps(SIZE, SIZE, 2, 20);
const rnd = seededRandom(1);
const spots = Array.from({ length: 12 }, () => [rnd() * SIZE, rnd() * SIZE, 40 + rnd() * 120]);
const covered = new Uint8Array(SIZE * SIZE);
for (let y = 0; y < SIZE; y++) {
  for (let x = 0; x < SIZE; x++) {
    const i = y * SIZE + x;
    let e = 0.05 * rnd();
    for (const [sx, sy, r] of spots) {
      e += 0.9 * Math.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * r * r));
    }
    maps.entropy[i] = Math.min(1, e);
    maps.mutualInformation[i] = maps.entropy[i] / 3;
    maps.meanProb[i * 2 + 1] = 0.5 * (1 + Math.sin(x / 97) * Math.cos(y / 61));
    maps.meanProb[i * 2] = 1 - maps.meanProb[i * 2 + 1];
    covered[i] = x < SIZE * 0.9 && y > SIZE * 0.1 ? 1 : 0;
  }
}

const common = { patchSize: PATCH, stride: STRIDE, count: 10, covered };
const rows: Record<string, number[]> = {
  'suggestPatches entropy': [],
  'rankPatches entropy': [],
  'suggestPatches uga_score': [],
  'rankPatches uga_score': [],
  'suggestPatches uga_code': []
};
let same = true;
for (let round = 0; round < ROUNDS; round++) {
  for (const strategy of ['entropy', 'uga_score'] as const) {
    const [ta, a] = time(() => suggestPatches(maps, { ...common, strategy }));
    const [tb, b] = time(() => rankPatches(maps, { ...common, strategy }));
    rows[`suggestPatches ${strategy}`].push(ta);
    rows[`rankPatches ${strategy}`].push(tb);
    // Same candidates and scores: the same top-K boxes (ties aside).
    same = same && a.map(p => `${p.x},${p.y}`).join(' ') === b.map(p => `${p.x},${p.y}`).join(' ');
  }
  rows['suggestPatches uga_code'].push(time(() => suggestPatches(maps, { ...common, strategy: 'uga_code' }))[0]);
}

// Painting: one stroke of MOVES short moves over a 512 x 512 mask, brush 32.
const mask = createMask(512, 512);
const palette = buildPalette([
  [0, 0, 0],
  [220, 40, 40]
]);
const rgba = new Uint8ClampedArray(512 * 512 * 4);
const path = Array.from({ length: MOVES + 1 }, (_, k) => [256 + 200 * Math.cos(k / 40), 256 + 200 * Math.sin(k / 23)]);
const paint: Record<string, number[]> = { dirty: [], full: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of ['dirty', 'full'] as const) {
    mask.data.fill(0);
    const [t] = time(() => {
      for (let k = 1; k < path.length; k++) {
        const r = stampSegment(mask, path[k - 1][0], path[k - 1][1], path[k][0], path[k][1], 32, k % 2);
        if (r) {
          colorize(mask, palette, rgba, mode === 'dirty' ? r : undefined);
        }
      }
    });
    paint[mode].push(t / MOVES);
  }
}

const load = os
  .loadavg()
  .map(v => v.toFixed(2))
  .join(' ');
console.log(`map ${SIZE} x ${SIZE}, patch ${PATCH}, stride ${STRIDE}, K 10, ${ROUNDS} rounds (median ms), load average ${load}`);
for (const [name, v] of Object.entries(rows)) {
  console.log(`  ${name.padEnd(26)} ${median(v).toFixed(0).padStart(7)} ms`);
}
const ratioE = median(rows['rankPatches entropy']) / median(rows['suggestPatches entropy']);
const ratioU = median(rows['rankPatches uga_score']) / median(rows['suggestPatches uga_score']);
console.log(`  rankPatches / suggestPatches: entropy ${ratioE.toFixed(1)}x, uga_score ${ratioU.toFixed(1)}x; same top-10 boxes: ${same}`);
console.log(
  `paint 512 x 512, brush 32, ${MOVES} moves: per move dirty-rect ${median(paint.dirty).toFixed(3)} ms, full recolour ${median(paint.full).toFixed(3)} ms, ratio ${(median(paint.full) / median(paint.dirty)).toFixed(1)}x`
);
console.log(
  `suggest_entropy_ms=${median(rows['suggestPatches entropy']).toFixed(0)} rank_entropy_ms=${median(rows['rankPatches entropy']).toFixed(0)} uga_code_ms=${median(rows['suggestPatches uga_code']).toFixed(0)} paint_dirty_ms=${median(paint.dirty).toFixed(3)} paint_full_ms=${median(paint.full).toFixed(3)} load=${os.loadavg()[0].toFixed(2)}`
);
