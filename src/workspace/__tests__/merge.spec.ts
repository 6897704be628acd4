import { describeConflict, mergeManifests } from '../merge';
import { patchEntry, runHeader, type Manifest, type ManifestPatch } from '../manifest';
import { run } from './helpers';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:00:01.000Z';
const T2 = '2026-01-01T00:00:02.000Z';

function base(): Manifest {
  const r = run(4);
  return { ...runHeader(r, 'm'), created: T0, updated: T0, patches: r.patches.map(c => patchEntry(c, T0)), models: [] };
}

function edit(m: Manifest, id: string, change: Partial<ManifestPatch>): Manifest {
  const out: Manifest = JSON.parse(JSON.stringify(m));
  const i = out.patches.findIndex(p => p.id === id);
  out.patches[i] = { ...out.patches[i], ...change };
  return out;
}

const status = (m: Manifest) => Object.fromEntries(m.patches.map(p => [p.id, p.status]));

describe('mergeManifests', () => {
  it('takes changes to different patches from both sides', () => {
    const b = base();
    const mine = edit(b, 'p000', { status: 'corrected', updated: T1 });
    const theirs = edit(b, 'p001', { status: 'skipped', updated: T2 });
    const r = mergeManifests(b, mine, theirs);
    expect(r.conflicts).toEqual([]);
    expect(status(r.merged)).toEqual({ p000: 'corrected', p001: 'skipped', p002: 'suggested', p003: 'suggested' });
    expect(r.takenFromTheirs).toEqual(['p001']);
  });

  it('reports the same patch changed differently on both sides, and resolves it as asked', () => {
    const b = base();
    const mine = edit(b, 'p002', { status: 'corrected', updated: T1 });
    const theirs = edit(b, 'p002', { status: 'skipped', updated: T2 });
    const r = mergeManifests(b, mine, theirs);
    expect(r.conflicts.map(c => [c.kind, c.key])).toEqual([['patch', 'p002']]);
    expect(describeConflict(r.conflicts[0])).toBe('patch p002: here corrected, on disk skipped');
    expect(status(mergeManifests(b, mine, theirs, 'mine').merged).p002).toBe('corrected');
    const t = mergeManifests(b, mine, theirs, 'theirs');
    expect(status(t.merged).p002).toBe('skipped');
    expect(t.takenFromTheirs).toEqual(['p002']);
  });

  it('the same change on both sides is no conflict', () => {
    const b = base();
    const mine = edit(b, 'p002', { status: 'corrected', updated: T1 });
    expect(mergeManifests(b, mine, JSON.parse(JSON.stringify(mine))).conflicts).toEqual([]);
  });

  it('keeps additions from both sides and deletions from one side', () => {
    const b = base();
    const mine: Manifest = JSON.parse(JSON.stringify(b));
    mine.patches.push({ ...b.patches[0], id: 'mineNew' });
    mine.patches = mine.patches.filter(p => p.id !== 'p003'); // deleted here, unchanged there
    const theirs: Manifest = JSON.parse(JSON.stringify(b));
    theirs.patches.push({ ...b.patches[0], id: 'theirNew' });
    const r = mergeManifests(b, mine, theirs);
    expect(r.conflicts).toEqual([]);
    expect(r.merged.patches.map(p => p.id)).toEqual(['p000', 'p001', 'p002', 'mineNew', 'theirNew']);
  });

  it('a patch deleted on disk but changed here is a conflict', () => {
    const b = base();
    const mine = edit(b, 'p001', { status: 'corrected', updated: T1 });
    const theirs: Manifest = JSON.parse(JSON.stringify(b));
    theirs.patches = theirs.patches.filter(p => p.id !== 'p001');
    const r = mergeManifests(b, mine, theirs);
    expect(r.conflicts.map(c => [c.key, c.theirs])).toEqual([['p001', undefined]]);
    expect(describeConflict(r.conflicts[0])).toBe('patch p001: here corrected, on disk removed');
  });

  it('merges models[] by version and top-level fields whole', () => {
    const b = base();
    const mine: Manifest = JSON.parse(JSON.stringify(b));
    mine.models = [{ version: '1', path: 'models/1', hash: 'sha256:' + '1'.repeat(64), created: T1 }];
    const theirs: Manifest = JSON.parse(JSON.stringify(b));
    theirs.models = [{ version: '2', path: 'models/2', hash: 'sha256:' + '2'.repeat(64), created: T2 }];
    theirs.slide = { ...theirs.slide, mpp: 0.3 };
    const r = mergeManifests(b, mine, theirs);
    expect(r.conflicts).toEqual([]);
    expect(r.merged.models!.map(m => m.version)).toEqual(['1', '2']);
    expect(r.merged.slide.mpp).toBe(0.3);
    const mine2: Manifest = JSON.parse(JSON.stringify(mine));
    mine2.slide = { ...mine2.slide, mpp: 0.2 };
    expect(mergeManifests(b, mine2, theirs).conflicts.map(c => [c.kind, c.key])).toEqual([['field', 'slide']]);
  });
});
