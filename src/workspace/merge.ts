/**
 * Three-way merge of manifest.json: `base` is what this panel last read or
 * wrote, `mine` what it wants to write now, `theirs` what is on disk (the
 * notebook or another tab changed it meanwhile). Patches merge by id,
 * models[] by version, other top-level keys whole. Something changed on one
 * side only is taken from that side; the same thing changed differently on
 * both sides is a conflict, never decided here.
 */
import type { Manifest, ManifestModel, ManifestPatch } from './manifest';

export interface Conflict {
  /** 'patch' (id), 'model' (version) or 'field' (top-level key, e.g. 'classes'). */
  kind: 'patch' | 'model' | 'field';
  key: string;
  /** undefined = absent on that side (added / deleted). */
  base: unknown;
  mine: unknown;
  theirs: unknown;
}

export type Resolution = 'mine' | 'theirs' | 'cancel';

export interface MergeResult {
  /** The merged manifest with every conflict decided for `prefer` (see resolve()). */
  merged: Manifest;
  conflicts: Conflict[];
  /** Patch ids whose entry in `merged` comes from `theirs` and differs from `mine`: reload their PNGs. */
  takenFromTheirs: string[];
}

function same(a: unknown, b: unknown): boolean {
  return stableJson(a) === stableJson(b);
}

/** JSON with sorted keys, so key order never counts as a change. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.keys(x)
            .sort()
            .map(k => [k, (x as Record<string, unknown>)[k]])
        )
      : x
  );
}

interface Pick3<T> {
  value: T | undefined;
  conflict: boolean;
  fromTheirs: boolean;
}

function pick<T>(base: T | undefined, mine: T | undefined, theirs: T | undefined, prefer: 'mine' | 'theirs'): Pick3<T> {
  if (same(mine, theirs)) {
    return { value: mine, conflict: false, fromTheirs: false };
  }
  if (same(base, theirs)) {
    return { value: mine, conflict: false, fromTheirs: false };
  }
  if (same(base, mine)) {
    return { value: theirs, conflict: false, fromTheirs: true };
  }
  return { value: prefer === 'mine' ? mine : theirs, conflict: true, fromTheirs: prefer === 'theirs' };
}

function mergeList<T>(
  key: (x: T) => string,
  base: readonly T[],
  mine: readonly T[],
  theirs: readonly T[],
  prefer: 'mine' | 'theirs',
  onConflict: (k: string, b?: T, m?: T, t?: T) => void,
  onTheirs: (k: string) => void
): T[] {
  const b = new Map(base.map(x => [key(x), x]));
  const m = new Map(mine.map(x => [key(x), x]));
  const t = new Map(theirs.map(x => [key(x), x]));
  // order: mine's order, then what only theirs has (in theirs' order)
  const keys = [...m.keys(), ...[...t.keys()].filter(k => !m.has(k))];
  const out: T[] = [];
  for (const k of keys) {
    const r = pick(b.get(k), m.get(k), t.get(k), prefer);
    if (r.conflict) {
      onConflict(k, b.get(k), m.get(k), t.get(k));
    }
    if (r.fromTheirs && !same(r.value, m.get(k))) {
      onTheirs(k);
    }
    if (r.value !== undefined) {
      out.push(r.value);
    }
  }
  return out;
}

/**
 * Merge; conflicted items take `prefer`'s side in `merged` (call again with
 * the user's choice once asked). `updated` never conflicts (it is set on write).
 */
export function mergeManifests(base: Manifest, mine: Manifest, theirs: Manifest, prefer: 'mine' | 'theirs' = 'mine'): MergeResult {
  const conflicts: Conflict[] = [];
  const takenFromTheirs: string[] = [];
  const patches = mergeList<ManifestPatch>(
    p => p.id,
    base.patches,
    mine.patches,
    theirs.patches,
    prefer,
    (key, b, m, t) => conflicts.push({ kind: 'patch', key, base: b, mine: m, theirs: t }),
    id => takenFromTheirs.push(id)
  );
  const models = mergeList<ManifestModel>(
    x => x.version,
    base.models ?? [],
    mine.models ?? [],
    theirs.models ?? [],
    prefer,
    (key, b, m, t) => conflicts.push({ kind: 'model', key, base: b, mine: m, theirs: t }),
    () => undefined
  );
  const merged: Record<string, unknown> = {};
  const keys = new Set([...Object.keys(mine), ...Object.keys(theirs)]);
  for (const k of keys) {
    if (k === 'patches' || k === 'models' || k === 'updated') {
      continue;
    }
    const b = (base as Record<string, unknown>)[k];
    const m = (mine as Record<string, unknown>)[k];
    const t = (theirs as Record<string, unknown>)[k];
    const r = pick(b, m, t, prefer);
    if (r.conflict) {
      conflicts.push({ kind: 'field', key: k, base: b, mine: m, theirs: t });
    }
    if (r.value !== undefined) {
      merged[k] = r.value;
    }
  }
  merged.updated = mine.updated ?? theirs.updated;
  merged.patches = patches;
  if (models.length || mine.models || theirs.models) {
    merged.models = models;
  }
  return { merged: merged as Manifest, conflicts, takenFromTheirs };
}

/** One line per conflict for a dialog. */
export function describeConflict(c: Conflict): string {
  const status = (v: unknown) =>
    v === undefined ? 'removed' : typeof v === 'object' && v && 'status' in v ? String((v as ManifestPatch).status) : 'changed';
  if (c.kind === 'patch') {
    return `patch ${c.key}: here ${status(c.mine)}, on disk ${status(c.theirs)}`;
  }
  return c.kind === 'model' ? `model ${c.key} changed on both sides` : `'${c.key}' changed on both sides`;
}
