/**
 * Both languages agree on one fixture: TypeScript writes (through the
 * Contents fake, into a real folder) and jupyterlab_uga.load_corrections
 * reads; Python's write_corrections writes and CorrectionsStore.restore()
 * reads; annotations.geojson from either side is the same and passes the
 * same checks. Under CI=true a missing .venv fails (helpers.python()).
 */
import * as fs from 'fs';
import * as path from 'path';
import { CorrectionsStore } from '../CorrectionsStore';
import { geoJSONProblems } from '../geojson';
import { FsContents } from './fakeContents';
import { CLASSES, SIZE, correction, describePython, run, runPython, tempDir } from './helpers';

/** The fixture: 4 patches, two corrected, one skipped, one suggested. */
function fixture() {
  const cs = [correction(0, 'corrected'), correction(1, 'corrected'), correction(2, 'skipped'), correction(3, 'suggested')];
  cs[1].mask[3] = 255;
  return cs;
}

const READ_PY = `
import json, sys, numpy as np
from jupyterlab_uga.corrections import load_corrections, read_manifest, write_annotations, corrections_dir
folder = sys.argv[1]
c = load_corrections(folder, statuses=("corrected", "skipped", "suggested"))
fc = json.loads((corrections_dir(folder) / "annotations.geojson").read_text())
print(json.dumps({"ids": c.ids, "statuses": c.statuses, "boxes": c.boxes.tolist(), "ranks": c.ranks.tolist(),
                  "scores": c.scores.tolist(), "images": c.images.reshape(len(c), -1).tolist(),
                  "masks": c.masks.reshape(len(c), -1).tolist(), "classes": c.classes, "annotations": fc,
                  "regenerated": write_annotations(folder)}))
`.trim();

const WRITE_PY = `
import json, sys, numpy as np
from jupyterlab_uga.corrections import write_corrections
d = json.load(sys.stdin)
patches = [dict(id=p["id"], box=p["box"], image=np.array(p["image"], np.uint8).reshape(d["size"], d["size"], 4)[..., :3],
                mask=np.array(p["mask"], np.uint8).reshape(d["size"], d["size"]), score=p["score"], rank=p["rank"], status=p["status"])
           for p in d["patches"]]
write_corrections(sys.argv[1], d["slide"], patches, model=d["model"], analysis=d["analysis"], classes=d["classes"])
print(json.dumps(True))
`.trim();

const rgb = (rgba: Uint8ClampedArray) => Array.from(rgba).filter((_, i) => i % 4 !== 3);

describePython("TypeScript and Python read each other's corrections folders", () => {
  it("TypeScript writes, load_corrections reads the same patches; annotations.geojson equals the Python writer's", async () => {
    const root = tempDir();
    const store = new CorrectionsStore({ contents: new FsContents(root), slidePath: 'X.svs' });
    const cs = fixture();
    const r = run(0);
    r.patches = cs.map(c => ({ ...c, status: 'suggested' as const }));
    expect((await store.writeSuggestions(r)).saved).toBe(true);
    expect((await store.accept([cs[0], cs[1]])).saved).toBe(true);
    expect((await store.skip(cs[2].id)).saved).toBe(true);
    const ann = fs.readFileSync(path.join(root, 'X.svs.uga/annotations.geojson'), 'utf8');

    const py = runPython(READ_PY, [path.join(root, 'X.svs')]);
    expect(py.ids).toEqual(cs.map(c => c.id));
    expect(py.statuses).toEqual(['corrected', 'corrected', 'skipped', 'suggested']);
    expect(py.boxes).toEqual(cs.map(c => c.box));
    expect(py.ranks).toEqual(cs.map(c => c.rank));
    expect(py.scores).toEqual(cs.map(c => c.score));
    expect(py.classes).toEqual(CLASSES);
    cs.forEach((c, i) => {
      expect(py.images[i]).toEqual(rgb(c.image));
      expect(py.masks[i]).toEqual(Array.from(c.mask));
    });
    // the file TypeScript wrote = what Python regenerates from the same masks
    expect(py.annotations).toEqual(JSON.parse(ann));
    expect(py.regenerated).toEqual(JSON.parse(ann));
    expect(py.annotations.features.length).toBeGreaterThan(0);
    expect(geoJSONProblems(py.annotations)).toEqual([]);
  });

  it("Python writes, restore() reads the same patches; the panel's GeoJSON equals Python's file", async () => {
    const root = tempDir();
    const cs = fixture();
    const r = run(0);
    runPython(
      WRITE_PY,
      [path.join(root, 'X.svs')],
      JSON.stringify({
        size: SIZE,
        slide: r.slide,
        model: { path: 'models/base', hash: r.model.hash },
        analysis: r.analysis,
        classes: CLASSES,
        patches: cs.map(c => ({ ...c, image: Array.from(c.image), mask: Array.from(c.mask) }))
      })
    );
    const store = new CorrectionsStore({ contents: new FsContents(root), slidePath: 'X.svs' });
    const restored = await store.restore();
    expect(restored).not.toBeNull();
    expect(restored!.patches.map(p => [p.id, p.status, p.rank, p.score, p.box])).toEqual(
      cs.map(c => [c.id, c.status, c.rank, c.score, c.box])
    );
    restored!.patches.forEach((p, i) => {
      expect(Array.from(p.image)).toEqual(Array.from(cs[i].image));
      expect(Array.from(p.mask)).toEqual(Array.from(cs[i].mask));
      expect([p.level, p.downsample, p.patchSize]).toEqual([0, 2, SIZE]);
    });
    const pyFile = JSON.parse(fs.readFileSync(path.join(root, 'X.svs.uga/annotations.geojson'), 'utf8'));
    expect(store.geoJSON()).toEqual(pyFile);
    expect(geoJSONProblems(pyFile)).toEqual([]);
    // and the panel can go on writing into the Python-made folder
    expect((await store.accept({ ...restored!.patches[3], status: 'corrected' })).saved).toBe(true);
    const py = runPython(READ_PY, [path.join(root, 'X.svs')]);
    expect(py.statuses).toEqual(['corrected', 'corrected', 'skipped', 'corrected']);
  });
});
