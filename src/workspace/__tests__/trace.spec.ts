import { insideRing, maskPolygons, maskToGeoJSON, ringArea, round3, traceRings } from '../trace';
import { rasterizeRings } from '../rasterize';
import { geoJSONProblems, selfCrossing } from '../geojson';
import { CLASSES, blobMask, describePython, rng, runPython } from './helpers';

function fromRows(rows: string[]): { mask: Uint8Array; w: number; h: number } {
  const h = rows.length;
  const w = rows[0].length;
  const mask = new Uint8Array(w * h);
  rows.forEach((r, y) => [...r].forEach((ch, x) => (mask[y * w + x] = ch === '.' ? 0 : ch === 'x' ? 255 : Number(ch))));
  return { mask, w, h };
}

/** Shapes with holes, pinches, touching regions of two classes, ignore pixels, the border. */
const SHAPES: Record<string, string[]> = {
  square: ['....', '.11.', '.11.', '....'],
  hole: ['11111', '1...1', '1.1.1', '1...1', '11111'],
  pinch: ['1.', '.1'],
  pinchRing: ['.111.', '1...1', '1.1.1', '1...1', '.111.'],
  touching: ['1122', '1122', '2211', '2211'],
  nested: ['2222222', '2.....2', '2.111.2', '2.1.1.2', '2.111.2', '2.....2', '2222222'],
  ignore: ['x11x', '1xx1', '1111', 'xx..'],
  comb: ['1.1.1.1', '1111111', '.1.1.1.', '1111111']
};

function shapeMasks(): { name: string; mask: Uint8Array; w: number; h: number }[] {
  const out = Object.entries(SHAPES).map(([name, rows]) => ({ name, ...fromRows(rows) }));
  for (let s = 1; s <= 6; s++) {
    out.push({ name: `blobs${s}`, mask: blobMask(24, s), w: 24, h: 24 });
    // salt and pepper: many pinches and single pixels
    const r = rng(s * 7);
    const m = new Uint8Array(16 * 16).map(() => (r() < 0.45 ? 1 : r() < 0.3 ? 2 : r() < 0.1 ? 255 : 0));
    out.push({ name: `noise${s}`, mask: m, w: 16, h: 16 });
  }
  return out;
}

function count(mask: Uint8Array, v: number): number {
  return mask.reduce((n, x) => n + (x === v ? 1 : 0), 0);
}

describe('traceRings / maskPolygons', () => {
  it('traces a square clockwise and a hole anticlockwise, rings closed', () => {
    const { mask, w, h } = fromRows(['......', '.1111.', '.1111.', '.1.11.', '.1111.', '......']);
    const rings = traceRings(w, h, i => mask[i] === 1);
    expect(rings).toHaveLength(2);
    const [outer, hole] = [...rings].sort((a, b) => ringArea(b) - ringArea(a));
    expect(outer).toEqual([
      [1, 1],
      [5, 1],
      [5, 5],
      [1, 5],
      [1, 1]
    ]);
    expect(ringArea(outer)).toBe(16);
    expect(ringArea(hole)).toBe(-1);
  });

  it('keeps diagonal-only contact apart (4-connectivity)', () => {
    const { mask, w, h } = fromRows(SHAPES.pinch);
    const polys = maskPolygons(w, h, i => mask[i] === 1);
    expect(polys.map(p => ringArea(p[0]))).toEqual([1, 1]);
  });

  it('polygon area equals pixel count, rings closed and not crossing, for every class', () => {
    for (const { name, mask, w, h } of shapeMasks()) {
      for (const cls of [1, 2]) {
        const polys = maskPolygons(w, h, i => mask[i] === cls);
        let area = 0;
        for (const p of polys) {
          expect(ringArea(p[0])).toBeGreaterThan(0);
          area += ringArea(p[0]);
          for (const hole of p.slice(1)) {
            expect(ringArea(hole)).toBeLessThan(0);
            area += ringArea(hole);
          }
          for (const ring of p) {
            expect(ring[0]).toEqual(ring[ring.length - 1]);
            expect(selfCrossing(ring)).toBeNull();
          }
        }
        expect([name, cls, area]).toEqual([name, cls, count(mask, cls)]);
      }
    }
  });
});

describe('rasterise round trip', () => {
  it('mask -> polygons -> mask is identical (holes, touching regions, ignore, noise)', () => {
    for (const { name, mask, w, h } of shapeMasks()) {
      const box = [1000, 2000, w * 4.353, h * 4.353]; // a non-integer downsample
      const fc = maskToGeoJSON(mask, w, h, box, CLASSES);
      const back = new Uint8Array(w * h).fill(255);
      // background first: its polygons have the other classes as holes
      const bg = maskToGeoJSON(mask, w, h, box, CLASSES, { skipClasses: [] }).features[0];
      for (const f of [bg, ...fc.features].filter(Boolean)) {
        const cls = CLASSES.findIndex(c => c.name === (f.properties.classification as { name: string }).name);
        const polys = (f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates) as number[][][][];
        for (const p of polys) {
          rasterizeRings(p, back, w, h, box, cls);
        }
      }
      expect([name, Array.from(back)]).toEqual([name, Array.from(mask)]);
    }
  });

  it('rasterises an arbitrary polygon by pixel centres, even-odd', () => {
    const m = new Uint8Array(10 * 10);
    // a diamond with a square hole
    const diamond = [
      [5, 0],
      [10, 5],
      [5, 10],
      [0, 5],
      [5, 0]
    ];
    const hole = [
      [4, 4],
      [6, 4],
      [6, 6],
      [4, 6],
      [4, 4]
    ];
    const n = rasterizeRings([diamond, hole], m, 10, 10, [0, 0, 10, 10], 1);
    expect(n).toBe(count(m, 1));
    expect(m[5 * 10 + 5]).toBe(0); // in the hole
    expect(m[5 * 10 + 2]).toBe(1);
    expect(m[0]).toBe(0);
    // brute force: every pixel centre tested against the rings (even-odd)
    let expected = 0;
    for (let j = 0; j < 10; j++) {
      for (let i = 0; i < 10; i++) {
        // same half-open rule as the scanline: a centre on a left edge is in
        expected += insideRing(i + 0.5, j + 0.5, diamond) !== insideRing(i + 0.5, j + 0.5, hole) ? 1 : 0;
      }
    }
    expect(n).toBe(expected);
  });
});

describe('maskToGeoJSON', () => {
  it('writes QuPath annotations: classification with colour, objectType, level-0 coordinates, no background or ignore', () => {
    const { mask, w, h } = fromRows(SHAPES.ignore);
    const fc = maskToGeoJSON(mask, w, h, [1000, 2000, 8, 8], CLASSES, { properties: { uga: { patch: 'p1' } } });
    expect(geoJSONProblems(fc)).toEqual([]);
    expect(fc.features).toHaveLength(1);
    const f = fc.features[0];
    expect(f.properties).toEqual({
      objectType: 'annotation',
      classification: { name: 'Gland', color: [220, 40, 40] },
      isLocked: false,
      uga: { patch: 'p1' }
    });
    expect(f.geometry.type).toBe('MultiPolygon'); // two 4-connected pieces
    for (const ring of (f.geometry.coordinates as number[][][][]).flat(2)) {
      expect(ring[0] >= 1000 && ring[0] <= 1008 && ring[1] >= 2000 && ring[1] <= 2008).toBe(true);
    }
  });

  it("featurePer 'region' gives one Polygon per connected region", () => {
    const { mask, w, h } = fromRows(SHAPES.pinch);
    const per = maskToGeoJSON(mask, w, h, [0, 0, 2, 2], CLASSES, { featurePer: 'region' });
    expect(per.features.map(f => f.geometry.type)).toEqual(['Polygon', 'Polygon']);
    expect(maskToGeoJSON(mask, w, h, [0, 0, 2, 2], CLASSES).features.map(f => f.geometry.type)).toEqual(['MultiPolygon']);
  });

  it('round3 rounds like Python, ties to even', () => {
    expect(round3(1.0005)).toBe(1.0); // 1.0005 is below the tie in binary
    expect(round3(0.0625)).toBe(0.062);
    expect(round3(0.1875)).toBe(0.188);
    expect(round3(12.3456)).toBe(12.346);
    expect(round3(7)).toBe(7);
  });
});

describePython('the same GeoJSON as jupyterlab_uga.corrections.mask_to_geojson', () => {
  it('for every fixture mask and a non-integer scale', () => {
    const cases = shapeMasks().map((s, i) => ({ ...s, box: [1000 + i, 2000, s.w * 4.353, s.h * 3.1] }));
    const py = runPython(
      `
import json, sys, numpy as np
from jupyterlab_uga.corrections import mask_to_geojson
cases = json.load(sys.stdin)
classes = cases["classes"]
print(json.dumps([mask_to_geojson(np.array(c["mask"], np.uint8).reshape(c["h"], c["w"]), c["box"], classes) for c in cases["cases"]]))
`.trim(),
      [],
      JSON.stringify({ classes: CLASSES, cases: cases.map(c => ({ mask: Array.from(c.mask), w: c.w, h: c.h, box: c.box })) })
    );
    const ts = cases.map(c => maskToGeoJSON(c.mask, c.w, c.h, c.box, CLASSES));
    expect(ts).toEqual(py);
    for (const fc of py) {
      expect(geoJSONProblems(fc)).toEqual([]);
    }
  });
});
