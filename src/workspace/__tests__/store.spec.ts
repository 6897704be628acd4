import * as fs from 'fs';
import * as path from 'path';
import { CorrectionsStore, DEFAULT_MODEL_PATH } from '../CorrectionsStore';
import { WorkspaceError } from '../errors';
import { decodePng, encodeGreyPng } from '../png';
import { validateManifest } from '../manifest';
import { geoJSONProblems } from '../geojson';
import type { Conflict } from '../merge';
import type { Correction } from '../../tokens';
import { FakeResponseError, FsContents } from './fakeContents';
import { CLASSES, SIZE, correction, run, tempDir } from './helpers';

function setup(resolveConflict?: (c: Conflict[]) => Promise<'mine' | 'theirs' | 'cancel'>) {
  const root = tempDir();
  fs.mkdirSync(path.join(root, 'slides'));
  const contents = new FsContents(root);
  const store = new CorrectionsStore({ contents, slidePath: 'slides/X.svs', resolveConflict });
  const dir = path.join(root, 'slides/X.svs.uga');
  const read = () => JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const files = () => (fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).map(String).sort() : []);
  return { root, contents, store, dir, read, files };
}

function corrected(i: number, fill?: number): Correction {
  const c = correction(i, 'corrected');
  if (fill !== undefined) {
    c.mask = new Uint8Array(SIZE * SIZE).fill(fill);
  }
  return c;
}

const statuses = (m: { patches: { id: string; status: string }[] }) => Object.fromEntries(m.patches.map(p => [p.id, p.status]));

describe('CorrectionsStore: write and restore', () => {
  it('restore() of a slide without a folder is null and writes nothing', async () => {
    const { store, contents, files } = setup();
    expect(await store.restore()).toBeNull();
    expect(contents.calls.filter(c => c.op !== 'get')).toEqual([]);
    expect(files()).toEqual([]);
  });

  it('a suggestion run writes the manifest, PNGs and GeoJSON; a new store restores it', async () => {
    const { root, store, read, files, dir } = setup();
    const outcome = await store.writeSuggestions(run(3));
    expect(outcome).toEqual({ saved: true, error: null });
    expect(files()).toEqual([
      'annotations.geojson',
      'manifest.json',
      'masks',
      'masks/p000.png',
      'masks/p001.png',
      'masks/p002.png',
      'patches',
      'patches/p000.png',
      'patches/p001.png',
      'patches/p002.png'
    ]);
    const m = validateManifest(read());
    expect(statuses(m)).toEqual({ p000: 'suggested', p001: 'suggested', p002: 'suggested' });
    expect(m.model.path).toBe(DEFAULT_MODEL_PATH);
    expect(m.patches[1]).toMatchObject({ box: [164, 200, 64, 64], rank: 2, level: 0, downsample: 2 });
    const png = decodePng(fs.readFileSync(path.join(dir, 'masks/p001.png')), 'm');
    expect([png.width, png.height, png.channels]).toEqual([SIZE, SIZE, 1]);
    // nothing corrected yet: no annotations
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'annotations.geojson'), 'utf8')).features).toEqual([]);
    expect(store.saveState('p001')).toBe('saved');

    const again = new CorrectionsStore({ contents: new FsContents(root), slidePath: 'slides/X.svs' });
    const restored = await again.restore();
    expect(restored!.patches.map(p => [p.id, p.status, p.rank])).toEqual([
      ['p000', 'suggested', 1],
      ['p001', 'suggested', 2],
      ['p002', 'suggested', 3]
    ]);
    const want = correction(1);
    const got = restored!.patches[1];
    expect(Array.from(got.mask)).toEqual(Array.from(want.mask));
    expect(Array.from(got.image)).toEqual(Array.from(want.image));
    expect([got.box, got.level, got.downsample, got.patchSize, got.classes]).toEqual([want.box, 0, 2, SIZE, CLASSES]);
  });

  it('accept writes PNGs before the manifest, through temporary names, and refreshes annotations.geojson', async () => {
    const { store, contents, read, dir, files } = setup();
    await store.writeSuggestions(run(3));
    contents.calls.length = 0;
    const c = corrected(1);
    c.mask[5] = 2;
    expect((await store.accept(c)).saved).toBe(true);
    expect(statuses(read())).toEqual({ p000: 'suggested', p001: 'corrected', p002: 'suggested' });
    const renames = contents.calls.filter(x => x.op === 'rename').map(x => x.to);
    // masks/p001.png is replaced (aside, in, old deleted); the manifest after every PNG
    const into = renames.filter(t => !t!.endsWith('.old'));
    expect(into).toEqual([
      'slides/X.svs.uga/patches/p001.png',
      'slides/X.svs.uga/masks/p001.png',
      'slides/X.svs.uga/manifest.json',
      'slides/X.svs.uga/annotations.geojson'
    ]);
    expect(contents.calls.filter(x => x.op === 'save').every(x => x.path.endsWith('.tmp'))).toBe(true);
    expect(files().filter(f => /\.(tmp|old)$/.test(f))).toEqual([]);
    const mask = decodePng(fs.readFileSync(path.join(dir, 'masks/p001.png')), 'm').data;
    expect(mask[5]).toBe(2);
    const fc = JSON.parse(fs.readFileSync(path.join(dir, 'annotations.geojson'), 'utf8'));
    expect(geoJSONProblems(fc)).toEqual([]);
    expect(new Set(fc.features.map((f: any) => f.properties.uga.patch))).toEqual(new Set(['p001']));
    expect(fc.features.map((f: any) => f.properties.classification.name).sort()).toEqual(['Gland', 'Stroma']);
    await store.skip('p002');
    expect(statuses(read()).p002).toBe('skipped');
    const before = read().patches[1];
    expect(read().patches[1].created).toBe(before.created);
  });

  it('a new run keeps corrected and skipped patches, replaces old suggestions and removes their PNGs', async () => {
    const { store, read, files } = setup();
    await store.writeSuggestions(run(3));
    await store.accept(corrected(0));
    await store.skip('p001');
    const r = run(2, 1); // p001 (same box as the skipped one) and p002
    r.patches.push({ ...correction(9), id: 'p000' }); // id of a corrected patch, another box
    await store.writeSuggestions(r);
    const m = read();
    expect(statuses(m)).toEqual({ p000: 'corrected', p001: 'skipped', p002: 'suggested', 'p000.2': 'suggested' });
    expect(files().filter(f => f.endsWith('.png'))).toEqual(
      [
        // p001 is kept as skipped with the mask the model predicted
        'masks/p000.2.png',
        'masks/p000.png',
        'masks/p001.png',
        'masks/p002.png',
        'patches/p000.2.png',
        'patches/p000.png',
        'patches/p001.png',
        'patches/p002.png'
      ].sort()
    );
    expect(store.patches.map(p => p.id)).toEqual(['p000', 'p001', 'p002', 'p000.2']);
    // another patch size with reviewed patches present is refused, nothing written
    const other = run(1);
    other.analysis.patchSize = 64;
    await expect(store.writeSuggestions(other)).rejects.toThrow(/reviewed patches of 32 px; this run uses 64 px/);
    expect(read()).toEqual(m);
  });

  it('exportGeoJSON, recordModel and importGeoJSON', async () => {
    const { store, contents, root, read } = setup();
    await store.writeSuggestions(run(2));
    await store.accept(corrected(0, 1));
    expect(await store.exportGeoJSON()).toEqual({ path: 'slides/X.svs.uga/annotations.geojson', features: 1 });
    await store.recordModel({
      version: '1',
      hash: 'sha256:' + 'cd'.repeat(32),
      parentHash: 'sha256:' + 'ab'.repeat(32),
      patches: ['p000']
    });
    expect(read().models).toMatchObject([{ version: '1', path: 'models/1', patches: ['p000'] }]);
    await expect(store.recordModel({ version: '2', path: '../x', hash: 'sha256:' + 'cd'.repeat(32) })).rejects.toThrow(
      /leaves the corrections folder/
    );
    fs.writeFileSync(
      path.join(root, 'slides/qupath.geojson'),
      JSON.stringify([
        {
          type: 'Feature',
          geometry: {
            type: 'Polygon',
            coordinates: [
              [
                [0, 0],
                [64, 0],
                [64, 32],
                [0, 32],
                [0, 0]
              ]
            ]
          },
          properties: { classification: { name: 'gland', color: [1, 2, 3] } }
        },
        {
          type: 'Feature',
          geometry: {
            type: 'Polygon',
            coordinates: [
              [
                [0, 0],
                [5, 0],
                [5, 5],
                [0, 0]
              ]
            ]
          },
          properties: { classification: { name: 'Tumor' } }
        }
      ])
    );
    const boxes: number[][] = [];
    const result = await store.importGeoJSON('slides/qupath.geojson', {
      readImage: async (box, size) => {
        boxes.push(box);
        return new Uint8ClampedArray(size * size * 4).fill(7);
      }
    });
    expect(result.unknownClasses).toEqual(['Tumor']);
    expect(result.corrections.map(c => [c.id, c.box, c.status, c.rank])).toEqual([['qp-x0-y0-s64', [0, 0, 64, 64], 'corrected', 3]]);
    expect(boxes).toEqual([[0, 0, 64, 64]]);
    const mask = result.corrections[0].mask;
    expect([mask[0], mask[SIZE * SIZE - 1]]).toEqual([1, 255]); // top half Gland, bottom half ignore
    const writesBefore = contents.calls.filter(c => c.op === 'save').length;
    expect(contents.calls.filter(c => c.op === 'save').length).toBe(writesBefore); // import itself wrote nothing
    await store.accept(result.corrections);
    expect(statuses(read())['qp-x0-y0-s64']).toBe('corrected');
  });
});

describe('CorrectionsStore: changes while a save is under way', () => {
  it('accepts in a row all reach the disk, PNGs before the manifest that names them', async () => {
    const { store, read, dir } = setup();
    await store.writeSuggestions(run(4));
    const outs = await Promise.all([0, 1, 2].map(i => store.accept(corrected(i, 1 + (i % 2)))));
    expect(outs.every(o => o.saved)).toBe(true);
    expect(statuses(read())).toEqual({ p000: 'corrected', p001: 'corrected', p002: 'corrected', p003: 'suggested' });
    for (const i of [0, 1, 2]) {
      expect(decodePng(fs.readFileSync(path.join(dir, `masks/p00${i}.png`)), 'm').data[0]).toBe(1 + (i % 2));
    }
  });

  it('an accept that arrives while the manifest is being replaced is written too, not marked saved early', async () => {
    const { store, contents, read } = setup();
    await store.writeSuggestions(run(3));
    let late: Promise<unknown> | null = null;
    const states: string[] = [];
    contents.failWith = (op, p) => {
      if (!late && op === 'rename' && /manifest\.json\.[a-z0-9]+\.tmp$/.test(p)) {
        late = store.accept(corrected(1));
        states.push(store.saveState('p001'));
      }
      return null;
    };
    await store.accept(corrected(0));
    expect(states).toEqual(['saving']);
    expect(store.saveState('p001')).not.toBe('saved');
    await late;
    expect(store.saveState('p001')).toBe('saved');
    expect(statuses(read())).toEqual({ p000: 'corrected', p001: 'corrected', p002: 'suggested' });
  });
});

describe('CorrectionsStore: changes from outside', () => {
  it('merges a change to another patch without asking', async () => {
    const resolve = jest.fn();
    const { store, root, read } = setup(resolve);
    await store.writeSuggestions(run(3));
    // the notebook (a second writer) skips p001
    const other = new CorrectionsStore({ contents: new FsContents(root), slidePath: 'slides/X.svs' });
    await other.restore();
    await other.skip('p001');
    const changed: string[][] = [];
    store.changed.connect((_, c) => changed.push(c.ids));
    expect((await store.accept(corrected(0))).saved).toBe(true);
    expect(resolve).not.toHaveBeenCalled();
    expect(statuses(read())).toEqual({ p000: 'corrected', p001: 'skipped', p002: 'suggested' });
    expect(store.correction('p001')!.status).toBe('skipped'); // the panel follows the disk
    expect(changed).toContainEqual(['p001']);
  });

  it('asks when the same patch changed on both sides; cancel writes nothing, retry can keep mine', async () => {
    let answer: 'mine' | 'theirs' | 'cancel' = 'cancel';
    const asked: Conflict[][] = [];
    const { store, root, read, dir } = setup(async c => {
      asked.push(c);
      return answer;
    });
    await store.writeSuggestions(run(3));
    const other = new CorrectionsStore({ contents: new FsContents(root), slidePath: 'slides/X.svs' });
    await other.restore();
    await other.accept(corrected(2, 1)); // the other side corrects p002 as all-Gland
    const theirs = fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8');
    const theirMask = fs.readFileSync(path.join(dir, 'masks/p002.png'));

    const out = await store.accept(corrected(2, 2)); // here: all-Stroma
    expect(out.saved).toBe(false);
    expect(out.error).toBeInstanceOf(WorkspaceError);
    expect(out.error!.kind).toBe('conflict');
    expect(asked[0].map(c => [c.kind, c.key])).toEqual([['patch', 'p002']]);
    expect(store.saveState('p002')).toBe('unsaved');
    expect(store.saveError('p002')).toMatch(/changed outside the panel.*nothing was overwritten/);
    expect(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).toBe(theirs);
    expect(fs.readFileSync(path.join(dir, 'masks/p002.png'))).toEqual(theirMask);
    expect(store.correction('p002')!.mask[0]).toBe(2); // kept in the panel

    answer = 'mine';
    expect((await store.retry('p002')).saved).toBe(true);
    expect(store.saveState('p002')).toBe('saved');
    expect(decodePng(fs.readFileSync(path.join(dir, 'masks/p002.png')), 'm').data[0]).toBe(2);
    expect(statuses(read()).p002).toBe('corrected');
  });

  it("'theirs' takes the disk's patch into the panel", async () => {
    const { store, root, read } = setup(async () => 'theirs');
    await store.writeSuggestions(run(2));
    const other = new CorrectionsStore({ contents: new FsContents(root), slidePath: 'slides/X.svs' });
    await other.restore();
    await other.accept(corrected(1, 1));
    expect((await store.accept(corrected(1, 2))).saved).toBe(true);
    expect(store.correction('p001')!.mask[0]).toBe(1);
    expect(statuses(read()).p001).toBe('corrected');
  });

  it('without a resolver, a conflict is never overwritten', async () => {
    const { store, root, dir } = setup();
    await store.writeSuggestions(run(2));
    const other = new CorrectionsStore({ contents: new FsContents(root), slidePath: 'slides/X.svs' });
    await other.restore();
    await other.skip('p000');
    const before = fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8');
    expect((await store.accept(corrected(0))).error!.kind).toBe('conflict');
    expect(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).toBe(before);
  });

  it('a manifest broken from outside is not overwritten', async () => {
    const { store, dir } = setup();
    await store.writeSuggestions(run(2));
    fs.writeFileSync(path.join(dir, 'manifest.json'), '{"formatVersion": 1}');
    const out = await store.accept(corrected(0));
    expect(out.error!.message).toMatch(/changed outside the panel and cannot be merged.*missing required 'slide'/);
    expect(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).toBe('{"formatVersion": 1}');
  });
});

describe('CorrectionsStore: failures keep the work', () => {
  it.each([
    ['read-only', new FakeResponseError(403, 'Permission denied: slides/X.svs.uga'), /read-only \(permission denied\)/],
    ['disk-full', new FakeResponseError(500, 'Unexpected error while saving file: [Errno 28] No space left on device'), /disk is full/],
    ['offline', new TypeError('Failed to fetch'), /no connection to the Jupyter server/]
  ])('%s: unsaved with a message, disk unchanged, retry saves', async (kind, error, message) => {
    const { store, contents, read, dir } = setup();
    await store.writeSuggestions(run(2));
    const before = fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8');
    contents.failWith = op => (op === 'save' || op === 'rename' ? error : null);
    const out = await store.accept(corrected(1, 1));
    expect(out.saved).toBe(false);
    expect(out.error!.kind).toBe(kind);
    expect(store.saveState('p001')).toBe('unsaved');
    expect(store.saveError('p001')).toMatch(message);
    expect(store.unsaved).toEqual(['p001']);
    expect(store.correction('p001')!.status).toBe('corrected');
    expect(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).toBe(before);
    // a skip meanwhile fails too and is kept
    await store.skip('p000');
    expect(store.unsaved.sort()).toEqual(['p000', 'p001']);
    contents.failWith = null;
    expect((await store.retry()).saved).toBe(true);
    expect(store.unsaved).toEqual([]);
    expect(statuses(read())).toEqual({ p000: 'skipped', p001: 'corrected' });
    expect(decodePng(fs.readFileSync(path.join(dir, 'masks/p001.png')), 'm').data[0]).toBe(1);
  });

  it('a failure between the two renames of the manifest puts the old one back', async () => {
    const { store, contents, dir } = setup();
    await store.writeSuggestions(run(2));
    const before = fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8');
    contents.failWith = (op, p) => (op === 'rename' && /manifest\.json\.[a-z0-9]+\.tmp$/.test(p) ? new TypeError('Failed to fetch') : null);
    expect((await store.accept(corrected(0))).saved).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).toBe(before);
    contents.failWith = null;
    expect((await store.retry()).saved).toBe(true);
  });

  it('restore() finishes a replace that was cut between the renames', async () => {
    const { store, root, dir, read } = setup();
    await store.writeSuggestions(run(2));
    await store.accept(corrected(0));
    const text = fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8');
    fs.renameSync(path.join(dir, 'manifest.json'), path.join(dir, 'manifest.json.abc123.tmp'));
    const again = new CorrectionsStore({ contents: new FsContents(root), slidePath: 'slides/X.svs' });
    const r = await again.restore();
    expect(r!.patches.map(p => p.status)).toEqual(['corrected', 'suggested']);
    expect(statuses(read())).toEqual(statuses(JSON.parse(text)));
    expect(fs.existsSync(path.join(dir, 'manifest.json.abc123.tmp'))).toBe(false);
  });
});

describe('CorrectionsStore: folders', () => {
  it('a restored folder without masks/ (as Python leaves it for unmasked suggestions) gets one on accept', async () => {
    const { store, root, dir, read } = setup();
    const r = run(2);
    r.patches.forEach(c => c.mask.fill(255)); // no prediction: no mask files
    await store.writeSuggestions(r);
    fs.rmSync(path.join(dir, 'masks'), { recursive: true });
    const again = new CorrectionsStore({ contents: new FsContents(root), slidePath: 'slides/X.svs' });
    await again.restore();
    expect((await again.accept(corrected(1, 1))).saved).toBe(true);
    expect(fs.existsSync(path.join(dir, 'masks/p001.png'))).toBe(true);
    expect(statuses(read()).p001).toBe('corrected');
  });

  it('a folder deleted from outside is made again on retry, with everything the panel holds', async () => {
    const { store, dir, read } = setup();
    await store.writeSuggestions(run(2));
    fs.rmSync(dir, { recursive: true });
    expect((await store.accept(corrected(0, 1))).saved).toBe(false);
    expect((await store.retry()).saved).toBe(true);
    expect(statuses(read())).toEqual({ p000: 'corrected', p001: 'suggested' });
    expect(fs.existsSync(path.join(dir, 'masks/p000.png'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'patches/p001.png'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'masks/p001.png'))).toBe(true); // the prediction
  });
});

describe('CorrectionsStore: restore refuses and changes nothing', () => {
  async function refused(edit: (m: any, dir: string) => void, message: RegExp, kind: string) {
    const { store, root, dir } = setup();
    await store.writeSuggestions(run(2));
    await store.accept(corrected(0));
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    edit(m, dir);
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
    const snapshot = () => (fs.readdirSync(dir, { recursive: true }) as string[]).map(f => [f, fs.statSync(path.join(dir, f)).mtimeMs]);
    const before = snapshot();
    const contents = new FsContents(root);
    const again = new CorrectionsStore({ contents, slidePath: 'slides/X.svs' });
    const err = await again.restore().catch(e => e);
    expect(err).toBeInstanceOf(WorkspaceError);
    expect(err.kind).toBe(kind);
    expect(err.message).toMatch(message);
    expect(contents.calls.filter(c => c.op !== 'get')).toEqual([]);
    expect(snapshot()).toEqual(before);
    // and a run cannot overwrite it either
    await expect(again.writeSuggestions(run(1))).rejects.toThrow(message);
    expect(contents.calls.filter(c => c.op !== 'get')).toEqual([]);
  }

  it('a newer formatVersion', () => refused(m => (m.formatVersion = 2), /formatVersion 2 is newer.*upgrade/, 'newer-format'));
  it('a schema failure', () => refused(m => (m.patches[0].status = 'done'), /patches\[0\]\.status/, 'invalid'));
  it('a path leaving the folder', () => refused(m => (m.patches[0].mask = '../../secret.png'), /patches\[0\]\.mask: path/, 'unsafe-path'));
  it('an absolute path', () => refused(m => (m.patches[1].image = '/etc/passwd'), /absolute path/, 'unsafe-path'));
  it('a mask value that is no class', () =>
    refused(
      (_m, dir) => fs.writeFileSync(path.join(dir, 'masks/p000.png'), encodeGreyPng(new Uint8Array(SIZE * SIZE).fill(9), SIZE, SIZE)),
      /mask values \[9\]/,
      'invalid'
    ));
  it('a missing mask of a corrected patch', () =>
    refused((_m, dir) => fs.rmSync(path.join(dir, 'masks/p000.png')), /'corrected' but its mask/, 'invalid'));
});
