/**
 * Polygons -> mask: a pixel belongs to a polygon when its centre is inside
 * (even-odd over all rings, so holes cut out). Pixel-edge polygons from
 * trace.ts rasterise back to exactly the pixels they were traced from,
 * because no pixel centre lies on a pixel edge.
 */

/** Rings in level-0 coordinates; several polygons (a MultiPolygon) may be given at once. */
export type Rings = readonly (readonly (readonly number[])[])[];

/**
 * Set `value` in `mask` (width x height, row-major) where the rings cover the
 * pixel centre. The mask covers the level-0 `box` [x, y, w, h]. Returns the
 * number of pixels set.
 */
export function rasterizeRings(
  rings: Rings,
  mask: Uint8Array,
  width: number,
  height: number,
  box: readonly number[],
  value: number
): number {
  const [x0, y0, bw, bh] = box;
  const sx = bw / width;
  const sy = bh / height;
  // edges in mask-pixel units
  const edges: [number, number, number, number][] = [];
  for (const ring of rings) {
    for (let i = 0; i + 1 < ring.length; i++) {
      const ax = (ring[i][0] - x0) / sx;
      const ay = (ring[i][1] - y0) / sy;
      const bx = (ring[i + 1][0] - x0) / sx;
      const by = (ring[i + 1][1] - y0) / sy;
      if (ay !== by) {
        edges.push([ax, ay, bx, by]);
      }
    }
    // tolerate an unclosed ring (the reader reports it; the area is still meant)
    const f = ring[0];
    const l = ring[ring.length - 1];
    if (ring.length > 2 && (f[0] !== l[0] || f[1] !== l[1])) {
      edges.push([(l[0] - x0) / sx, (l[1] - y0) / sy, (f[0] - x0) / sx, (f[1] - y0) / sy]);
    }
  }
  let count = 0;
  const xs: number[] = [];
  for (let j = 0; j < height; j++) {
    const cy = j + 0.5;
    xs.length = 0;
    for (const [ax, ay, bx, by] of edges) {
      if (ay > cy !== by > cy) {
        xs.push(ax + ((cy - ay) * (bx - ax)) / (by - ay));
      }
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // pixels whose centre i + 0.5 lies in [xs[k], xs[k+1])
      const from = Math.max(0, Math.ceil(xs[k] - 0.5));
      const to = Math.min(width, Math.ceil(xs[k + 1] - 0.5));
      for (let i = from; i < to; i++) {
        mask[j * width + i] = value;
        count++;
      }
    }
  }
  return count;
}
