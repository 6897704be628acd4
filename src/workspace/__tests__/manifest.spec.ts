import { jsonPath, manifestErrors, patchEntry, runHeader, validateManifest, type Manifest } from '../manifest';
import { WorkspaceError } from '../errors';
import { correction, describePython, run, runPython } from './helpers';

function good(): Manifest {
  const r = run(3);
  const t = '2026-11-26T20:00:00.000Z';
  return {
    ...runHeader(r, 'models/base'),
    created: t,
    updated: t,
    patches: r.patches.map(c => patchEntry(c, t)),
    models: []
  };
}

const BAD: [string, (m: any) => void, RegExp][] = [
  ['enum', m => (m.patches[0].status = 'done'), /patches\[0\]\.status: "done" is not one of/],
  ['required', m => delete m.patches[1].box, /patches\[1\]: missing required 'box'/],
  ['minItems', m => (m.patches[0].box = [1, 2, 3]), /patches\[0\]\.box: needs at least 4/],
  ['type', m => (m.analysis.T = '20'), /analysis\.T: expected integer/],
  ['pattern', m => (m.model.hash = 'md5:00'), /model\.hash/],
  ['duplicate', m => m.patches.push({ ...m.patches[0] }), /duplicate ids \["p000"\]/],
  ['width', m => (m.slide.width = 0), /slide\.width/],
  ['classes', m => delete m.classes, /missing required 'classes'/],
  ['colour', m => (m.classes[0].color = [0, 0, 256]), /classes\[0\]\.color\[2\]/],
  ['id', m => (m.patches[0].id = '../x'), /patches\[0\]\.id/],
  ['mpp', m => (m.analysis.mpp = 0), /analysis\.mpp/],
  ['date', m => (m.patches[0].created = 'yesterday'), /patches\[0\]\.created/]
];

describe("manifest validation (the Python package's JSON Schema, through ajv)", () => {
  it('accepts a manifest built from a run', () => {
    expect(manifestErrors(good())).toEqual([]);
    expect(() => validateManifest(good())).not.toThrow();
  });

  it.each(BAD)('refuses %s with the JSON path in the message', (_name, edit, message) => {
    const m = good();
    edit(m);
    expect(() => validateManifest(m)).toThrow(message);
    try {
      validateManifest(m);
    } catch (e) {
      expect(e).toBeInstanceOf(WorkspaceError);
      expect((e as WorkspaceError).kind).toBe('invalid');
      expect((e as Error).message).toMatch(/Nothing was changed/);
    }
  });

  it('refuses a newer formatVersion before looking at anything else', () => {
    const m: any = good();
    m.formatVersion = 2;
    m.patches = 'whatever';
    expect(() => validateManifest(m)).toThrow(/formatVersion 2 is newer .* upgrade jupyterlab-uga/);
    expect(() => validateManifest(m)).toThrow(expect.objectContaining({ kind: 'newer-format' }));
  });

  it.each([['../secret.png'], ['/etc/passwd'], ['C:/x.png'], ['masks/../../x.png']])('refuses the path %s', p => {
    const m: any = good();
    m.patches[1].mask = p;
    expect(() => validateManifest(m)).toThrow(expect.objectContaining({ kind: 'unsafe-path' }));
    expect(() => validateManifest(m)).toThrow(/patches\[1\]\.mask/);
  });

  it('jsonPath converts JSON pointers to the Python notation', () => {
    expect(jsonPath('/patches/3/status')).toBe('patches[3].status');
    expect(jsonPath('')).toBe('manifest');
    expect(jsonPath('/classes/0/color/2')).toBe('classes[0].color[2]');
  });

  it('patchEntry keeps created and extra keys, moves updated, rounds the box', () => {
    const c = correction(2, 'corrected');
    c.box = [10.4, 20.6, 64, 64];
    const first = patchEntry(c, '2026-01-01T00:00:00.000Z');
    const again = patchEntry(c, '2026-01-02T00:00:00.000Z', { ...first, note: 'kept' });
    expect(again.created).toBe('2026-01-01T00:00:00.000Z');
    expect(again.updated).toBe('2026-01-02T00:00:00.000Z');
    expect(again.box).toEqual([10, 21, 64, 64]);
    expect(again.note).toBe('kept');
    expect(() => patchEntry({ ...c, id: '../x' }, '2026-01-01T00:00:00.000Z')).toThrow(/patch id/);
  });
});

describePython('both validators agree', () => {
  it('jupyterlab_uga.corrections.validate_manifest accepts and refuses the same manifests', () => {
    const cases = [
      good(),
      ...BAD.map(([, edit]) => {
        const m = good();
        edit(m);
        return m;
      })
    ];
    const py: (string | null)[] = runPython(
      `
import json, sys
from jupyterlab_uga.corrections import validate_manifest, CorrectionsError
out = []
for m in json.load(sys.stdin):
    try:
        validate_manifest(m); out.append(None)
    except CorrectionsError as e:
        out.append(str(e))
print(json.dumps(out))
`.trim(),
      [],
      JSON.stringify(cases)
    );
    const ts = cases.map(m => manifestErrors(m).length > 0);
    expect(py.map(x => x !== null)).toEqual(ts);
    expect(ts[0]).toBe(false);
    expect(ts.slice(1).every(Boolean)).toBe(true);
  });
});
