/**
 * Dice against jupyterlab_uga.metrics on the same random fixture (pred,
 * truth with ignore pixels, a region), to 1e-6; plus hand-checkable cases.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { accumulateDice, dice, diceFromCounts, diceRecord, emptyDiceCounts } from '../dice';
import { IGNORE_LABEL } from '../../tokens';
import { requireOrSkip } from '../../__tests__/requirements';

const root = path.resolve(__dirname, '../../..');
const python = path.join(root, '.venv/bin/python');

it('counts a hand-made case', () => {
  // truth: 1 1 0 0 255; pred: 1 0 0 1 1
  const d = dice([1, 0, 0, 1, 1], [1, 1, 0, 0, IGNORE_LABEL], 2);
  expect(d.perClass[1]).toBeCloseTo((2 * 1) / (2 + 2), 12);
  expect(d.perClass[0]).toBeCloseTo((2 * 1) / (2 + 2), 12);
  expect(d.mean).toBeCloseTo(0.5, 12);
  expect(d.pixels).toBe(4);
  // A class absent from both is null and left out of the mean.
  const e = dice([0, 0], [0, 0], 3);
  expect(e.perClass).toEqual([1, null, null]);
  expect(e.mean).toBe(1);
  expect(diceRecord(d, ['Background', 'Gland']).perClass).toEqual({ Background: d.perClass[0], Gland: d.perClass[1] });
  // Accumulating two halves equals one pass.
  const c = emptyDiceCounts(2);
  accumulateDice(c, [1, 0], [1, 1]);
  accumulateDice(c, [0, 1, 1], [0, 0, IGNORE_LABEL]);
  expect(diceFromCounts(c)).toEqual(d);
  expect(() => dice([1], [1, 0], 2)).toThrow(/same number of pixels/);
});

if (requireOrSkip('Dice against jupyterlab_uga.metrics', fs.existsSync(python) ? [] : [python])) {
  it('agrees with jupyterlab_uga.metrics.dice_summary to 1e-6', () => {
    let s = 12345;
    const next = () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 4294967296;
    };
    const n = 5000;
    const classes = 3;
    const pred = Array.from({ length: n }, () => Math.floor(next() * classes));
    const truth = Array.from({ length: n }, (_, i) =>
      next() < 0.1 ? IGNORE_LABEL : next() < 0.6 ? pred[i] : Math.floor(next() * classes)
    );
    const region = Array.from({ length: n }, () => (next() < 0.8 ? 1 : 0));
    const ours = dice(pred, truth, classes, region);
    const script = [
      'import sys, json, numpy as np',
      'from jupyterlab_uga.metrics import dice_per_class, dice_summary',
      'd = json.load(sys.stdin)',
      'r = np.array(d["region"], bool); p = np.array(d["pred"])[r]; t = np.array(d["truth"])[r]',
      'per = dice_per_class(p, t, 3)',
      'print(json.dumps({"per": per.tolist(), "mean": dice_summary(p, t, ("a", "b", "c"))["dice_mean"]}))'
    ].join('\n');
    const run = spawnSync(python, ['-c', script], {
      cwd: root,
      input: JSON.stringify({ pred, truth, region }),
      encoding: 'utf8',
      env: { ...process.env, PYTHONPATH: root }
    });
    expect(run.stderr).toBe('');
    const py = JSON.parse(run.stdout) as { per: number[]; mean: number };
    py.per.forEach((v, c) => expect(Math.abs(v - ours.perClass[c]!)).toBeLessThan(1e-6));
    expect(Math.abs(py.mean - ours.mean!)).toBeLessThan(1e-6);
  });
}
