import { classIndex, geoJSONProblems, parseGeoJSON, planImport } from '../geojson';
import { maskToGeoJSON } from '../trace';
import { IGNORE_LABEL } from '../../tokens';
import { CLASSES, blobMask } from './helpers';

const square = (x: number, y: number, s: number) => [
  [x, y],
  [x + s, y],
  [x + s, y + s],
  [x, y + s],
  [x, y]
];

function feature(geometry: unknown, classification?: unknown) {
  return { type: 'Feature', id: 'abc', geometry, properties: { objectType: 'annotation', ...(classification ? { classification } : {}) } };
}

describe('parseGeoJSON (what QuPath exports)', () => {
  const poly = { type: 'Polygon', coordinates: [square(0, 0, 10)] };
  const gland = { name: 'Gland', color: [220, 40, 40] };

  it('reads a FeatureCollection, a single Feature and a bare array alike', () => {
    const f = feature(poly, gland);
    for (const input of [{ type: 'FeatureCollection', features: [f] }, f, [f]]) {
      const parsed = parseGeoJSON(JSON.stringify(input));
      expect(parsed.shapes).toEqual([{ className: 'Gland', polygons: [[square(0, 0, 10)]], index: 0 }]);
    }
  });

  it('reads MultiPolygons with holes, derived class names, old colorRGB classifications; skips points and lines', () => {
    const multi = { type: 'MultiPolygon', coordinates: [[square(0, 0, 10), square(2, 2, 2)], [square(20, 0, 5)]] };
    const parsed = parseGeoJSON([
      feature(multi, { names: ['Tumor', 'Positive'], color: [1, 2, 3] }),
      feature(poly, { name: 'Stroma', colorRGB: -3670016 }),
      feature({ type: 'Point', coordinates: [1, 2] }, gland),
      feature(
        {
          type: 'LineString',
          coordinates: [
            [0, 0],
            [1, 1]
          ]
        },
        gland
      ),
      feature(poly)
    ]);
    expect(parsed.shapes.map(s => [s.className, s.polygons.length, s.polygons[0].length])).toEqual([
      ['Tumor: Positive', 2, 2],
      ['Stroma', 1, 1],
      ['', 1, 1]
    ]);
    expect(parsed.skipped.map(s => s.index)).toEqual([2, 3]);
    expect(parsed.skipped[0].reason).toMatch(/Point geometry/);
  });

  it('says what is wrong with input that is not GeoJSON features', () => {
    expect(() => parseGeoJSON('{oops')).toThrow(/not valid JSON/);
    expect(() => parseGeoJSON({ type: 'Polygon', coordinates: [] })).toThrow(/expected a FeatureCollection, a Feature or an array/);
    expect(() =>
      parseGeoJSON([
        feature(
          {
            type: 'Polygon',
            coordinates: [
              [
                [0, 0],
                [1, 'x']
              ]
            ]
          },
          gland
        )
      ])
    ).toThrow(/feature 0, ring 0/);
  });

  it('maps class names to the model exactly, then ignoring case and spacing', () => {
    expect(classIndex('Gland', CLASSES)).toBe(1);
    expect(classIndex(' stroma ', CLASSES)).toBe(2);
    expect(classIndex('Tumor', CLASSES)).toBe(-1);
  });
});

describe('planImport', () => {
  it('cuts shapes into patch tiles, rasterises them, lists unknown classes', () => {
    // 4 analysis px per tile edge at downsample 2: tiles of 8 level-0 px
    const parsed = parseGeoJSON([
      feature({ type: 'Polygon', coordinates: [square(100, 100, 12)] }, { name: 'Gland', color: [1, 1, 1] }),
      feature({ type: 'Polygon', coordinates: [square(100, 100, 4)] }, { name: 'Stroma', color: [1, 1, 1] }),
      feature({ type: 'Polygon', coordinates: [square(0, 0, 4)] }, { name: 'Tumor', color: [1, 1, 1] }),
      feature({ type: 'Polygon', coordinates: [square(0, 0, 4)] })
    ]);
    const plan = planImport(parsed, CLASSES, 4, 2);
    expect(plan.unknownClasses).toEqual(['(unclassified)', 'Tumor']);
    expect(plan.tiles.map(t => t.box)).toEqual([
      [100, 100, 8, 8],
      [108, 100, 8, 8],
      [100, 108, 8, 8],
      [108, 108, 8, 8]
    ]);
    const I = IGNORE_LABEL;
    // later features are drawn over earlier ones: the Stroma square sits on the Gland
    expect(Array.from(plan.tiles[0].mask)).toEqual([2, 2, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(plan.tiles[3].mask)).toEqual([1, 1, I, I, 1, 1, I, I, I, I, I, I, I, I, I, I]);
    expect(plan.tiles[3].labelled).toBe(4);
    // fill = background instead of ignore
    expect(Array.from(planImport(parsed, CLASSES, 4, 2, 0).tiles[3].mask).filter(v => v === 0)).toHaveLength(12);
  });

  it('what the tracer writes imports back to the same mask', () => {
    const mask = blobMask(24, 3);
    const fc = maskToGeoJSON(mask, 24, 24, [480, 960, 48, 48], CLASSES);
    expect(geoJSONProblems(fc)).toEqual([]);
    const plan = planImport(parseGeoJSON(JSON.stringify(fc)), CLASSES, 24, 2);
    // the grid is anchored at the shapes' top-left, so compare pixel by pixel in level-0 space
    const want = new Map<string, number>();
    mask.forEach((v, i) => v !== 0 && v !== IGNORE_LABEL && want.set(`${480 + 2 * (i % 24)},${960 + 2 * Math.floor(i / 24)}`, v));
    const got = new Map<string, number>();
    for (const t of plan.tiles) {
      t.mask.forEach((v, i) => v !== IGNORE_LABEL && got.set(`${t.box[0] + 2 * (i % 24)},${t.box[1] + 2 * Math.floor(i / 24)}`, v));
    }
    expect(got).toEqual(want);
  });
});

describe('geoJSONProblems', () => {
  it('finds open rings, crossing edges, a missing colour and one-part MultiPolygons', () => {
    const bowtie = [
      [0, 0],
      [10, 10],
      [10, 0],
      [0, 10],
      [0, 0]
    ];
    const problems = geoJSONProblems({
      type: 'FeatureCollection',
      features: [
        feature(
          {
            type: 'Polygon',
            coordinates: [
              [
                [0, 0],
                [1, 0],
                [1, 1],
                [0, 1]
              ]
            ]
          },
          { name: 'Gland', color: [1, 2, 3] }
        ),
        feature({ type: 'Polygon', coordinates: [bowtie] }, { name: 'Gland' }),
        feature({ type: 'MultiPolygon', coordinates: [[square(0, 0, 1)]] }, { name: 'Gland', color: [1, 2, 3] })
      ]
    });
    expect(problems).toEqual([
      'features[0] part 0 ring 0: not closed (first position must equal the last, >= 4 positions)',
      'features[1]: classification needs a name and an RGB color (QuPath rejects it otherwise)',
      'features[1] part 0 ring 0: edges cross',
      'features[2]: a one-part MultiPolygon should be a Polygon'
    ]);
  });
});
