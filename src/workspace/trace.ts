/**
 * Mask -> polygons along pixel edges, a line-by-line port of
 * jupyterlab_uga.corrections.trace_rings / mask_polygons / mask_to_geojson so
 * both languages write the same annotations.geojson for the same mask (same
 * ring start, orientation and vertex order). No library here: the contour
 * tracers on npm (d3-contour's marching squares, etc.) cut pixel corners or
 * join diagonal pixels, and the format needs area = pixel count with
 * 4-connectivity.
 *
 * Coordinates are pixel corners (x right, y down). Outer rings run clockwise
 * on screen (positive shoelace area), holes anticlockwise; every ring repeats
 * its first vertex at the end.
 */
import type { ModelClassInfo } from '../engine/model';
import { IGNORE_LABEL } from '../tokens';

export type Point = [number, number];
export type Ring = Point[];
/** Outer ring, then its holes. */
export type PolygonRings = Ring[];

// directions 0:(1,0) 1:(0,1) 2:(-1,0) 3:(0,-1); the right turn (y down) of d is (d + 1) % 4
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];

/**
 * Closed boundary rings of the pixels where `inside(i)` holds, i = y * width + x.
 * At a pinch (diagonal contact) the walk turns right, so regions are 4-connected.
 */
export function traceRings(width: number, height: number, inside: (i: number) => boolean): Ring[] {
  const H1 = height + 1;
  const key = (x: number, y: number) => x * H1 + y; // numeric order = Python's sorted((x, y))
  const edges = new Map<number, number[]>();
  const fg = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && inside(y * width + x);
  const add = (x: number, y: number, d: number) => {
    const k = key(x, y);
    const list = edges.get(k);
    if (list) {
      list.push(d);
    } else {
      edges.set(k, [d]);
    }
  };
  // same insertion order as the Python (all top sides row-major, then right, bottom, left)
  const sides: [number, number, number, number, number][] = [
    [0, -1, 0, 0, 0], // top side: neighbour above is background; edge (x, y) -> (x+1, y)
    [1, 0, 1, 0, 1], // right side: (x+1, y) -> (x+1, y+1)
    [0, 1, 1, 1, 2], // bottom side: (x+1, y+1) -> (x, y+1)
    [-1, 0, 0, 1, 3] // left side: (x, y+1) -> (x, y)
  ];
  for (const [nx, ny, ox, oy, d] of sides) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (fg(x, y) && !fg(x + nx, y + ny)) {
          add(x + ox, y + oy, d);
        }
      }
    }
  }
  const turn = (d: number, options: number[]): number => {
    const right = (d + 1) % 4;
    if (options.includes(right)) {
      return right;
    }
    return options.includes(d) ? d : options[0];
  };
  const rings: Ring[] = [];
  const starts = [...edges.keys()].sort((a, b) => a - b);
  for (const start of starts) {
    const sx = Math.floor(start / H1);
    const sy = start % H1;
    const startList = edges.get(start)!;
    while (startList.length) {
      const d0 = startList.shift()!;
      const pts: Point[] = [[sx, sy]];
      let d = d0;
      let vx = sx + DX[d];
      let vy = sy + DY[d];
      for (;;) {
        const atStart = vx === sx && vy === sy;
        const options = edges.get(key(vx, vy)) ?? [];
        // the ring closes when the rule would take the first edge again
        const chosen = turn(d, atStart ? [...options, d0] : options);
        if (atStart && chosen === d0) {
          break;
        }
        pts.push([vx, vy]);
        options.splice(options.indexOf(chosen), 1);
        d = chosen;
        vx += DX[d];
        vy += DY[d];
      }
      rings.push(simplify(pts));
    }
  }
  return rings;
}

function simplify(pts: Point[]): Ring {
  const n = pts.length;
  const keep: Point[] = [];
  for (let i = 0; i < n; i++) {
    const a = pts[(i - 1 + n) % n];
    const b = pts[i];
    const c = pts[(i + 1) % n];
    if ((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]) !== 0) {
      keep.push(b);
    }
  }
  return [...keep, keep[0]];
}

/** Shoelace area of a closed ring; positive for clockwise-on-screen (y down). */
export function ringArea(ring: readonly (readonly number[])[]): number {
  let a = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    a += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
  }
  return a / 2;
}

/** Even-odd point-in-ring test. */
export function insideRing(x: number, y: number, ring: readonly (readonly number[])[]): boolean {
  let inside = false;
  for (let i = 0; i + 1 < ring.length; i++) {
    const [x0, y0] = ring[i];
    const [x1, y1] = ring[i + 1];
    if (y0 > y !== y1 > y && x < x0 + ((y - y0) * (x1 - x0)) / (y1 - y0)) {
      inside = !inside;
    }
  }
  return inside;
}

/** Polygons (outer ring, then holes) of the pixels where `inside` holds. */
export function maskPolygons(width: number, height: number, inside: (i: number) => boolean): PolygonRings[] {
  const rings = traceRings(width, height, inside);
  const outers = rings.filter(r => ringArea(r) > 0);
  const holes = rings.filter(r => ringArea(r) < 0);
  const polys: PolygonRings[] = outers.map(r => [r]);
  const areas = outers.map(ringArea);
  for (const h of holes) {
    // a hole's first edge has foreground on its right: test that pixel's centre
    const [x0, y0] = h[0];
    const [x1, y1] = h[1];
    const dx = Math.sign(x1 - x0);
    const dy = Math.sign(y1 - y0);
    const px = x0 + dx * 0.5 - dy * 0.5;
    const py = y0 + dy * 0.5 + dx * 0.5;
    let best = -1;
    outers.forEach((r, i) => {
      if (insideRing(px, py, r) && (best < 0 || areas[i] < areas[best])) {
        best = i;
      }
    });
    if (best >= 0) {
      polys[best].push(h);
    }
  }
  return polys;
}

/** Python's round(x, 3): nearest, ties to even (on the exact binary value). */
export function round3(v: number): number {
  if (Number.isInteger(v)) {
    return v;
  }
  const s = v * 1000;
  const f = Math.floor(s);
  const frac = s - f;
  let n: number;
  if (frac === 0.5 && (f + 0.5) / 1000 === v) {
    n = f % 2 === 0 ? f : f + 1;
  } else {
    n = Math.round(s);
  }
  return Number((n / 1000).toFixed(3));
}

export interface GeoJSONGeometry {
  type: 'Polygon' | 'MultiPolygon';
  coordinates: number[][][] | number[][][][];
}

export interface GeoJSONFeature {
  type: 'Feature';
  geometry: GeoJSONGeometry;
  properties: Record<string, unknown>;
}

export interface FeatureCollection {
  type: 'FeatureCollection';
  features: GeoJSONFeature[];
}

export interface MaskToGeoJSONOptions {
  /** Class indices not exported (default [0], the background); IGNORE_LABEL never is. */
  skipClasses?: readonly number[];
  /** Extra properties of every feature, e.g. {uga: {patch: id}}. */
  properties?: Record<string, unknown>;
  /**
   * 'class' (default, what the Python writer and docs/corrections-format.md
   * do): one Feature per class, a MultiPolygon when it has several regions.
   * 'region': one Polygon Feature per connected region and class.
   */
  featurePer?: 'class' | 'region';
}

/**
 * QuPath-compatible FeatureCollection of a class-index mask (row-major,
 * width x height) covering the level-0 `box` [x, y, w, h].
 */
export function maskToGeoJSON(
  mask: ArrayLike<number>,
  width: number,
  height: number,
  box: readonly number[],
  classes: readonly ModelClassInfo[],
  options: MaskToGeoJSONOptions = {}
): FeatureCollection {
  const skip = options.skipClasses ?? [0];
  const [x0, y0, bw, bh] = box;
  const sx = bw / width;
  const sy = bh / height;
  const toLevel0 = (ring: Ring) => ring.map(([x, y]) => [round3(x0 + x * sx), round3(y0 + y * sy)]);
  const features: GeoJSONFeature[] = [];
  classes.forEach((cls, c) => {
    if (skip.includes(c) || c === IGNORE_LABEL) {
      return;
    }
    const polys = maskPolygons(width, height, i => mask[i] === c);
    if (!polys.length) {
      return;
    }
    const coords = polys.map(p => p.map(toLevel0));
    const props = (): Record<string, unknown> => ({
      objectType: 'annotation',
      classification: { name: String(cls.name), color: [cls.color[0], cls.color[1], cls.color[2]].map(v => Math.round(v)) },
      isLocked: false,
      ...(options.properties ?? {})
    });
    if (options.featurePer === 'region') {
      for (const p of coords) {
        features.push({ type: 'Feature', geometry: { type: 'Polygon', coordinates: p }, properties: props() });
      }
    } else {
      const geometry: GeoJSONGeometry =
        coords.length === 1 ? { type: 'Polygon', coordinates: coords[0] } : { type: 'MultiPolygon', coordinates: coords };
      features.push({ type: 'Feature', geometry, properties: props() });
    }
  });
  return { type: 'FeatureCollection', features };
}
