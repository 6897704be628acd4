/**
 * QuPath GeoJSON in: FeatureCollection, a single Feature, or a bare array of
 * Features (QuPath's "Export objects" writes any of these); Polygon and
 * MultiPolygon geometries; classification by name. And the checks both
 * writers' output must pass (closed rings, no crossing edges, colour present).
 */
import type { ModelClassInfo } from '../engine/model';
import { IGNORE_LABEL } from '../tokens';
import { WorkspaceError } from './errors';
import { rasterizeRings } from './rasterize';

export interface ImportedShape {
  /** Class name as written in the file ('' = unclassified). */
  className: string;
  /** Polygons: each an outer ring followed by holes, level-0 coordinates. */
  polygons: number[][][][];
  /** Index of the feature in the file. */
  index: number;
}

export interface ParsedGeoJSON {
  shapes: ImportedShape[];
  /** Features that are not (Multi)Polygons, e.g. points or lines, with a reason. */
  skipped: { index: number; reason: string }[];
}

function className(props: unknown): string {
  const c = (props as { classification?: unknown } | null)?.classification;
  if (typeof c === 'string') {
    return c;
  }
  if (c && typeof c === 'object') {
    const o = c as { name?: unknown; names?: unknown };
    if (typeof o.name === 'string') {
      return o.name;
    }
    // QuPath's derived classes ("Tumor: Positive") as a list of names
    if (Array.isArray(o.names)) {
      return o.names.map(String).join(': ');
    }
  }
  return '';
}

function isPosition(p: unknown): p is number[] {
  return Array.isArray(p) && p.length >= 2 && typeof p[0] === 'number' && typeof p[1] === 'number' && isFinite(p[0]) && isFinite(p[1]);
}

function rings(coords: unknown, where: string): number[][][] {
  if (!Array.isArray(coords) || !coords.length) {
    throw new WorkspaceError('invalid', `${where}: a Polygon needs at least one ring`);
  }
  return coords.map((ring, r) => {
    if (!Array.isArray(ring) || ring.length < 3 || !ring.every(isPosition)) {
      throw new WorkspaceError('invalid', `${where}, ring ${r}: needs at least 3 [x, y] positions`);
    }
    return ring.map(p => [p[0], p[1]]);
  });
}

/** Parse QuPath GeoJSON text or value; throws a WorkspaceError for anything that is not GeoJSON features. */
export function parseGeoJSON(input: string | unknown, what = 'GeoJSON'): ParsedGeoJSON {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new WorkspaceError('invalid', `${what} is not valid JSON (${(e as Error).message})`, e);
    }
  }
  let features: unknown[];
  const v = value as { type?: unknown; features?: unknown };
  if (Array.isArray(value)) {
    features = value;
  } else if (v && v.type === 'FeatureCollection' && Array.isArray(v.features)) {
    features = v.features;
  } else if (v && v.type === 'Feature') {
    features = [value];
  } else {
    throw new WorkspaceError('invalid', `${what}: expected a FeatureCollection, a Feature or an array of Features`);
  }
  const shapes: ImportedShape[] = [];
  const skipped: ParsedGeoJSON['skipped'] = [];
  features.forEach((f, index) => {
    const feat = f as { type?: unknown; geometry?: { type?: unknown; coordinates?: unknown }; properties?: unknown };
    if (!feat || feat.type !== 'Feature' || !feat.geometry) {
      skipped.push({ index, reason: 'not a Feature with a geometry' });
      return;
    }
    const where = `${what}: feature ${index}`;
    const g = feat.geometry;
    let polygons: number[][][][];
    if (g.type === 'Polygon') {
      polygons = [rings(g.coordinates, where)];
    } else if (g.type === 'MultiPolygon' && Array.isArray(g.coordinates)) {
      polygons = g.coordinates.map((p, k) => rings(p, `${where}, part ${k}`));
    } else {
      skipped.push({ index, reason: `${String(g.type)} geometry (only Polygon and MultiPolygon become masks)` });
      return;
    }
    shapes.push({ className: className(feat.properties), polygons, index });
  });
  return { shapes, skipped };
}

/** Class index of a file's class name: exact name first, then ignoring case and spaces; -1 if none. */
export function classIndex(name: string, classes: readonly ModelClassInfo[]): number {
  const exact = classes.findIndex(c => c.name === name);
  if (exact >= 0) {
    return exact;
  }
  const norm = (s: string) => s.trim().toLowerCase().replace(/\s+/g, ' ');
  return classes.findIndex(c => norm(c.name) === norm(name));
}

export interface ImportTile {
  box: [number, number, number, number];
  /** patchSize x patchSize class indices, IGNORE_LABEL where no annotation covers the pixel. */
  mask: Uint8Array;
  /** Pixels that got a class. */
  labelled: number;
}

export interface ImportPlan {
  tiles: ImportTile[];
  /** Class names in the file that are not among the model's classes (their shapes were left out). */
  unknownClasses: string[];
  skipped: ParsedGeoJSON['skipped'];
}

function bbox(polys: number[][][][]): [number, number, number, number] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const p of polys) {
    for (const [x, y] of p[0]) {
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  return [x0, y0, x1, y1];
}

/**
 * Cut the shapes into patch-sized tiles: a grid of `tile` level-0 pixels
 * (patchSize * downsample, rounded) anchored at the shapes' top-left; every
 * cell a shape touches becomes a tile whose mask is rasterised at
 * `patchSize` px. Pixels no shape covers get `fill` (IGNORE_LABEL by
 * default: an annotation file says what is there, not what is not).
 * Later features are drawn over earlier ones.
 */
export function planImport(
  parsed: ParsedGeoJSON,
  classes: readonly ModelClassInfo[],
  patchSize: number,
  downsample: number,
  fill: number = IGNORE_LABEL
): ImportPlan {
  const unknown = new Set<string>();
  const known: { cls: number; shape: ImportedShape; bb: [number, number, number, number] }[] = [];
  for (const s of parsed.shapes) {
    const cls = classIndex(s.className, classes);
    if (cls < 0) {
      unknown.add(s.className || '(unclassified)');
      continue;
    }
    known.push({ cls, shape: s, bb: bbox(s.polygons) });
  }
  const tile = Math.max(1, Math.round(patchSize * downsample));
  if (!known.length) {
    return { tiles: [], unknownClasses: [...unknown].sort(), skipped: parsed.skipped };
  }
  const gx = Math.floor(Math.min(...known.map(k => k.bb[0])));
  const gy = Math.floor(Math.min(...known.map(k => k.bb[1])));
  const cells = new Map<string, [number, number]>();
  for (const k of known) {
    const [x0, y0, x1, y1] = k.bb;
    for (let cy = Math.floor((y0 - gy) / tile); cy * tile + gy < y1; cy++) {
      for (let cx = Math.floor((x0 - gx) / tile); cx * tile + gx < x1; cx++) {
        cells.set(`${cy},${cx}`, [cx, cy]);
      }
    }
  }
  const tiles: ImportTile[] = [];
  const order = [...cells.values()].sort((a, b) => a[1] - b[1] || a[0] - b[0]);
  for (const [cx, cy] of order) {
    const box: [number, number, number, number] = [gx + cx * tile, gy + cy * tile, tile, tile];
    const mask = new Uint8Array(patchSize * patchSize).fill(fill);
    let drawn = 0;
    for (const k of known) {
      if (k.bb[2] <= box[0] || k.bb[0] >= box[0] + tile || k.bb[3] <= box[1] || k.bb[1] >= box[1] + tile) {
        continue;
      }
      for (const poly of k.shape.polygons) {
        drawn += rasterizeRings(poly, mask, patchSize, patchSize, box, k.cls);
      }
    }
    // a cell the bounding box touched but no pixel centre fell into is not a tile
    if (drawn > 0) {
      let labelled = 0;
      for (const v of mask) {
        labelled += v !== IGNORE_LABEL ? 1 : 0;
      }
      tiles.push({ box, mask, labelled });
    }
  }
  return { tiles, unknownClasses: [...unknown].sort(), skipped: parsed.skipped };
}

// ----------------------------------------------------------------------------- checks

function segmentsCross(a: number[], b: number[], c: number[], d: number[]): boolean {
  // proper crossing or collinear overlap; touching at an end point is allowed
  const o = (p: number[], q: number[], r: number[]) => Math.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]));
  const o1 = o(a, b, c);
  const o2 = o(a, b, d);
  const o3 = o(c, d, a);
  const o4 = o(c, d, b);
  if (o1 * o2 < 0 && o3 * o4 < 0) {
    return true;
  }
  if (o1 === 0 && o2 === 0 && o3 === 0 && o4 === 0) {
    // collinear: overlap longer than a point?
    const k = a[0] !== b[0] ? 0 : 1;
    const lo = Math.max(Math.min(a[k], b[k]), Math.min(c[k], d[k]));
    const hi = Math.min(Math.max(a[k], b[k]), Math.max(c[k], d[k]));
    return hi > lo;
  }
  return false;
}

/** Indices of two edges of `ring` that cross, or null. O(n^2): meant for tests and checks, not hot paths. */
export function selfCrossing(ring: readonly number[][]): [number, number] | null {
  const n = ring.length - 1;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (j === i + 1 || (i === 0 && j === n - 1)) {
        continue; // neighbours share a vertex
      }
      if (segmentsCross(ring[i], ring[i + 1], ring[j], ring[j + 1])) {
        return [i, j];
      }
    }
  }
  return null;
}

/**
 * What QuPath (or this reader) would object to in a FeatureCollection written
 * by either writer: [] when none. Rings closed with >= 4 positions, no
 * crossing edges, objectType and classification {name, color[3]} present, a
 * one-part MultiPolygon written as a Polygon.
 */
export function geoJSONProblems(fc: unknown): string[] {
  const problems: string[] = [];
  const v = fc as { type?: unknown; features?: unknown };
  if (!v || v.type !== 'FeatureCollection' || !Array.isArray(v.features)) {
    return ['not a FeatureCollection'];
  }
  v.features.forEach((f: any, i: number) => {
    const at = `features[${i}]`;
    const props = f?.properties ?? {};
    if (props.objectType !== 'annotation') {
      problems.push(`${at}: objectType is not 'annotation'`);
    }
    const c = props.classification;
    if (!c || typeof c.name !== 'string' || !Array.isArray(c.color) || c.color.length !== 3) {
      problems.push(`${at}: classification needs a name and an RGB color (QuPath rejects it otherwise)`);
    }
    const g = f?.geometry;
    const polys: number[][][][] = g?.type === 'Polygon' ? [g.coordinates] : g?.type === 'MultiPolygon' ? g.coordinates : [];
    if (!polys.length) {
      problems.push(`${at}: geometry is not a Polygon or MultiPolygon`);
    }
    if (g?.type === 'MultiPolygon' && polys.length === 1) {
      problems.push(`${at}: a one-part MultiPolygon should be a Polygon`);
    }
    polys.forEach((p, k) =>
      p.forEach((ring, r) => {
        const where = `${at} part ${k} ring ${r}`;
        const first = ring[0];
        const last = ring[ring.length - 1];
        if (ring.length < 4 || first[0] !== last[0] || first[1] !== last[1]) {
          problems.push(`${where}: not closed (first position must equal the last, >= 4 positions)`);
        } else if (selfCrossing(ring)) {
          problems.push(`${where}: edges cross`);
        }
      })
    );
  });
  return problems;
}
