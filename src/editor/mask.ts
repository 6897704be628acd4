/**
 * Label-mask operations for the correction editor. Pure functions on
 * row-major `Uint8Array` masks (one class index per pixel, 255 = ignore);
 * each edit returns the rectangle it may have changed (or null), which is
 * all the editor redraws and all the history keeps.
 *
 * Geometry: pixel (x, y) covers [x, x+1) x [y, y+1); shapes are tested at
 * pixel centres (x + 0.5, y + 0.5). Coordinates are mask pixels, floats.
 */
import { IGNORE_LABEL } from '../tokens';

export interface Mask {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Inclusive-exclusive pixel rectangle: [x, x+width) x [y, y+height). */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function createMask(width: number, height: number, fill = 0): Mask {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`A mask needs a positive integer size, got ${width} x ${height}.`);
  }
  return { width, height, data: new Uint8Array(width * height).fill(fill) };
}

/** Wrap existing pixels, checking the length. */
export function maskOf(data: Uint8Array, width: number, height: number): Mask {
  if (data.length !== width * height) {
    throw new Error(`The mask has ${data.length} values, expected ${width} x ${height} = ${width * height}.`);
  }
  return { width, height, data };
}

/** Smallest rect holding both (null-tolerant). */
export function unionRect(a: Rect | null, b: Rect | null): Rect | null {
  if (!a) {
    return b;
  }
  if (!b) {
    return a;
  }
  const x0 = Math.min(a.x, b.x);
  const y0 = Math.min(a.y, b.y);
  const x1 = Math.max(a.x + a.width, b.x + b.width);
  const y1 = Math.max(a.y + a.height, b.y + b.height);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** Clip a float box to the mask and round outwards to whole pixels; null when empty. */
export function clipRect(mask: Mask, x0: number, y0: number, x1: number, y1: number): Rect | null {
  const ax = Math.max(0, Math.floor(x0));
  const ay = Math.max(0, Math.floor(y0));
  const bx = Math.min(mask.width, Math.ceil(x1));
  const by = Math.min(mask.height, Math.ceil(y1));
  return bx > ax && by > ay ? { x: ax, y: ay, width: bx - ax, height: by - ay } : null;
}

/**
 * Round brush of diameter `size` dragged from (x0, y0) to (x1, y1): every
 * pixel whose centre lies within size/2 of the segment (a capsule, so fast
 * strokes leave no gaps) gets `value`. The pixel under a point is always
 * painted, so size 1 draws a 1-pixel line. Returns the changed rect.
 */
export function stampSegment(mask: Mask, x0: number, y0: number, x1: number, y1: number, size: number, value: number): Rect | null {
  if (!(size > 0)) {
    throw new Error(`Brush size must be positive, got ${size}.`);
  }
  const r = size / 2;
  const r2 = r * r;
  const box = clipRect(mask, Math.min(x0, x1) - r, Math.min(y0, y1) - r, Math.max(x0, x1) + r, Math.max(y0, y1) + r);
  if (!box) {
    return null;
  }
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len2 = dx * dx + dy * dy;
  const { width, data } = mask;
  let changed: Rect | null = null;
  let cx0 = Infinity;
  let cy0 = Infinity;
  let cx1 = -Infinity;
  let cy1 = -Infinity;
  const set = (x: number, y: number) => {
    const i = y * width + x;
    if (data[i] !== value) {
      data[i] = value;
      cx0 = Math.min(cx0, x);
      cy0 = Math.min(cy0, y);
      cx1 = Math.max(cx1, x);
      cy1 = Math.max(cy1, y);
    }
  };
  for (let y = box.y; y < box.y + box.height; y++) {
    const py = y + 0.5;
    for (let x = box.x; x < box.x + box.width; x++) {
      const px = x + 0.5;
      // Distance from the pixel centre to the segment.
      let t = len2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / len2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = px - (x0 + t * dx);
      const ey = py - (y0 + t * dy);
      if (ex * ex + ey * ey <= r2) {
        set(x, y);
      }
    }
  }
  for (const [px, py] of [
    [x0, y0],
    [x1, y1]
  ]) {
    const ix = Math.floor(px);
    const iy = Math.floor(py);
    if (ix >= 0 && iy >= 0 && ix < mask.width && iy < mask.height) {
      set(ix, iy);
    }
  }
  if (cx1 >= cx0) {
    changed = { x: cx0, y: cy0, width: cx1 - cx0 + 1, height: cy1 - cy0 + 1 };
  }
  return changed;
}

/** What the eraser writes: 'ignore' = 255 (unlabel, never trained on) or 'background' = class 0. */
export type EraseTo = 'ignore' | 'background';

export function eraseValue(to: EraseTo): number {
  return to === 'background' ? 0 : IGNORE_LABEL;
}

/** Eraser = the brush writing the erase value (see `EraseTo`). */
export function eraseSegment(
  mask: Mask,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  size: number,
  to: EraseTo = 'ignore'
): Rect | null {
  return stampSegment(mask, x0, y0, x1, y1, size, eraseValue(to));
}

/**
 * Fill a polygon (flat [x0, y0, x1, y1, ...], closed implicitly) with
 * `value` by scanlines at pixel centres, even-odd rule: a pixel is inside
 * when a ray from its centre crosses the outline an odd number of times,
 * so a self-crossing lasso leaves its doubly wound lobes unfilled, as
 * canvas `fill('evenodd')` does. Returns the changed rect.
 */
export function fillPolygon(mask: Mask, points: ArrayLike<number>, value: number): Rect | null {
  const n = Math.floor(points.length / 2);
  if (n < 3) {
    return null;
  }
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, points[2 * i]);
    maxX = Math.max(maxX, points[2 * i]);
    minY = Math.min(minY, points[2 * i + 1]);
    maxY = Math.max(maxY, points[2 * i + 1]);
  }
  const box = clipRect(mask, minX, minY, maxX, maxY);
  if (!box) {
    return null;
  }
  const xs: number[] = [];
  let changed: Rect | null = null;
  for (let y = box.y; y < box.y + box.height; y++) {
    const py = y + 0.5;
    xs.length = 0;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const yi = points[2 * i + 1];
      const yj = points[2 * j + 1];
      // Half-open in y so a vertex on the scanline is counted once.
      if (yi <= py !== yj <= py) {
        const xi = points[2 * i];
        const xj = points[2 * j];
        xs.push(xi + ((py - yi) / (yj - yi)) * (xj - xi));
      }
    }
    xs.sort((a, b) => a - b);
    let rowX0 = Infinity;
    let rowX1 = -Infinity;
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // Pixels whose centre x + 0.5 lies in [xs[k], xs[k+1]).
      const a = Math.max(0, Math.ceil(xs[k] - 0.5));
      const b = Math.min(mask.width, Math.ceil(xs[k + 1] - 0.5));
      const off = y * mask.width;
      for (let x = a; x < b; x++) {
        if (mask.data[off + x] !== value) {
          mask.data[off + x] = value;
          rowX0 = Math.min(rowX0, x);
          rowX1 = Math.max(rowX1, x);
        }
      }
    }
    if (rowX1 >= rowX0) {
      changed = unionRect(changed, { x: rowX0, y, width: rowX1 - rowX0 + 1, height: 1 });
    }
  }
  return changed;
}

/**
 * Flood fill, 4-connected: the region of pixels equal to the seed's value
 * that touches the seed becomes `value` (scanline fill with an explicit
 * stack, so a 512 x 512 region does not recurse). Returns the changed rect.
 */
export function floodFill(mask: Mask, sx: number, sy: number, value: number): Rect | null {
  const x = Math.floor(sx);
  const y = Math.floor(sy);
  const { width, height, data } = mask;
  if (x < 0 || y < 0 || x >= width || y >= height) {
    return null;
  }
  const target = data[y * width + x];
  if (target === value) {
    return null;
  }
  let x0 = x;
  let x1 = x;
  let y0 = y;
  let y1 = y;
  const stack: number[] = [x, y];
  while (stack.length) {
    const cy = stack.pop()!;
    const cx = stack.pop()!;
    const off = cy * width;
    if (data[off + cx] !== target) {
      continue;
    }
    let l = cx;
    while (l > 0 && data[off + l - 1] === target) {
      l--;
    }
    let r = cx;
    while (r < width - 1 && data[off + r + 1] === target) {
      r++;
    }
    data.fill(value, off + l, off + r + 1);
    x0 = Math.min(x0, l);
    x1 = Math.max(x1, r);
    y0 = Math.min(y0, cy);
    y1 = Math.max(y1, cy);
    // Seed one pixel per run of target pixels in the rows above and below.
    for (const ny of [cy - 1, cy + 1]) {
      if (ny < 0 || ny >= height) {
        continue;
      }
      const noff = ny * width;
      let inRun = false;
      for (let i = l; i <= r; i++) {
        const hit = data[noff + i] === target;
        if (hit && !inRun) {
          stack.push(i, ny);
        }
        inRun = hit;
      }
    }
  }
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** Copy of the pixels of a rect (row-major, rect.width * rect.height). */
export function readRect(mask: Mask, r: Rect): Uint8Array {
  const out = new Uint8Array(r.width * r.height);
  for (let y = 0; y < r.height; y++) {
    const off = (r.y + y) * mask.width + r.x;
    out.set(mask.data.subarray(off, off + r.width), y * r.width);
  }
  return out;
}

/** Swap the pixels of a rect with `buffer` (what undo and redo do). */
export function swapRect(mask: Mask, r: Rect, buffer: Uint8Array): void {
  for (let y = 0; y < r.height; y++) {
    const off = (r.y + y) * mask.width + r.x;
    for (let x = 0; x < r.width; x++) {
      const b = y * r.width + x;
      const v = mask.data[off + x];
      mask.data[off + x] = buffer[b];
      buffer[b] = v;
    }
  }
}

/**
 * Boundary pixels: 1 where a pixel's value differs from one of its
 * 4-neighbours (inside the mask; the mask border is not a boundary). With
 * `skip`, pixels of that value (e.g. ignore) are never marked.
 */
export function outlinePixels(mask: Mask, skip?: number): Uint8Array {
  const { width, height, data } = mask;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const v = data[i];
      if (v === skip) {
        continue;
      }
      if (
        (x > 0 && data[i - 1] !== v) ||
        (x < width - 1 && data[i + 1] !== v) ||
        (y > 0 && data[i - width] !== v) ||
        (y < height - 1 && data[i + width] !== v)
      ) {
        out[i] = 1;
      }
    }
  }
  return out;
}

/**
 * Outline as line segments on pixel edges between different values,
 * merged into maximal horizontal and vertical runs: flat [x0, y0, x1, y1,
 * ...] in mask pixel coordinates (multiply by the display scale to draw).
 * Cheap to stroke at any thumbnail size, unlike boundary pixels.
 */
export function outlineSegments(mask: Mask): Float32Array {
  const { width, height, data } = mask;
  const segs: number[] = [];
  // Horizontal edges: between row y-1 and row y, y in 1..height-1.
  for (let y = 1; y < height; y++) {
    let start = -1;
    for (let x = 0; x <= width; x++) {
      const edge = x < width && data[(y - 1) * width + x] !== data[y * width + x];
      if (edge && start < 0) {
        start = x;
      } else if (!edge && start >= 0) {
        segs.push(start, y, x, y);
        start = -1;
      }
    }
  }
  // Vertical edges: between column x-1 and column x.
  for (let x = 1; x < width; x++) {
    let start = -1;
    for (let y = 0; y <= height; y++) {
      const edge = y < height && data[y * width + x - 1] !== data[y * width + x];
      if (edge && start < 0) {
        start = y;
      } else if (!edge && start >= 0) {
        segs.push(x, start, x, y);
        start = -1;
      }
    }
  }
  return Float32Array.from(segs);
}

/**
 * A `size` x `size` patch mask from a window of a label map: pixels of the
 * window outside the map, outside `valid` or not `covered` become ignore
 * (a partial patch at the slide edge is padded, never guessed).
 * `rect` is the window's top-left in map pixels.
 */
export function patchMask(
  labels: Uint8Array,
  mapWidth: number,
  mapHeight: number,
  rect: { x: number; y: number },
  size: number,
  options: { covered?: Uint8Array; valid?: Rect } = {}
): Uint8Array {
  if (labels.length !== mapWidth * mapHeight) {
    throw new Error(`The label map has ${labels.length} values, expected ${mapWidth} x ${mapHeight}.`);
  }
  const out = new Uint8Array(size * size).fill(IGNORE_LABEL);
  const v = options.valid ?? { x: 0, y: 0, width: mapWidth, height: mapHeight };
  const x0 = Math.max(rect.x, v.x, 0);
  const y0 = Math.max(rect.y, v.y, 0);
  const x1 = Math.min(rect.x + size, v.x + v.width, mapWidth);
  const y1 = Math.min(rect.y + size, v.y + v.height, mapHeight);
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = y * mapWidth + x;
      if (options.covered && !options.covered[i]) {
        continue;
      }
      out[(y - rect.y) * size + (x - rect.x)] = labels[i];
    }
  }
  return out;
}

/**
 * Pad a `width` x `height` mask, placed at (dx, dy), into `size` x `size`
 * with `fill` (ignore by default) around it. RGBA images pad the same way
 * with `padImage` (transparent).
 */
export function padMask(src: Uint8Array, width: number, height: number, size: number, dx = 0, dy = 0, fill = IGNORE_LABEL): Uint8Array {
  if (src.length !== width * height) {
    throw new Error(`The mask has ${src.length} values, expected ${width} x ${height}.`);
  }
  const out = new Uint8Array(size * size).fill(fill);
  for (let y = 0; y < height; y++) {
    const ty = y + dy;
    if (ty < 0 || ty >= size) {
      continue;
    }
    for (let x = 0; x < width; x++) {
      const tx = x + dx;
      if (tx >= 0 && tx < size) {
        out[ty * size + tx] = src[y * width + x];
      }
    }
  }
  return out;
}

export function padImage(src: ArrayLike<number>, width: number, height: number, size: number, dx = 0, dy = 0): Uint8ClampedArray {
  if (src.length !== width * height * 4) {
    throw new Error(`The image has ${src.length} values, expected ${width} x ${height} x 4.`);
  }
  const out = new Uint8ClampedArray(size * size * 4);
  for (let y = 0; y < height; y++) {
    const ty = y + dy;
    if (ty < 0 || ty >= size) {
      continue;
    }
    for (let x = 0; x < width; x++) {
      const tx = x + dx;
      if (tx < 0 || tx >= size) {
        continue;
      }
      const s = (y * width + x) * 4;
      const d = (ty * size + tx) * 4;
      out[d] = src[s];
      out[d + 1] = src[s + 1];
      out[d + 2] = src[s + 2];
      out[d + 3] = src[s + 3];
    }
  }
  return out;
}

/** Per-value RGBA table (256 x 4) for `colorize`. */
export type Palette = Uint8ClampedArray;

/**
 * Palette from class colours ([r, g, b] per class index), `alpha` 0-255.
 * Ignore (255) gets `ignoreColor`, drawn hatched by `colorize`; values
 * with no class stay transparent.
 */
export function buildPalette(
  colors: ReadonlyArray<readonly [number, number, number]>,
  alpha = 255,
  ignoreColor: readonly [number, number, number] = [255, 0, 255]
): Palette {
  const p = new Uint8ClampedArray(256 * 4);
  colors.forEach((c, i) => {
    if (i >= IGNORE_LABEL) {
      return;
    }
    p.set([c[0], c[1], c[2], alpha], i * 4);
  });
  p.set([ignoreColor[0], ignoreColor[1], ignoreColor[2], alpha], IGNORE_LABEL * 4);
  return p;
}

/** Diagonal hatching of ignore: 2 px lines every 6 px, transparent between. */
export function isHatch(x: number, y: number): boolean {
  return (x + y) % 6 < 2;
}

/**
 * Write the colours of a rect of the mask into RGBA `out` (same width and
 * height as the mask, e.g. an ImageData's data). Only that rect is
 * touched: the editor calls this with the dirty rect of each pointer move.
 */
export function colorize(
  mask: Mask,
  palette: Palette,
  out: Uint8ClampedArray,
  r: Rect = { x: 0, y: 0, width: mask.width, height: mask.height }
): void {
  const { width, data } = mask;
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) {
      const i = y * width + x;
      const v = data[i];
      const o = i * 4;
      if (v === IGNORE_LABEL && !isHatch(x, y)) {
        out[o + 3] = 0;
        continue;
      }
      const p = v * 4;
      out[o] = palette[p];
      out[o + 1] = palette[p + 1];
      out[o + 2] = palette[p + 2];
      out[o + 3] = palette[p + 3];
    }
  }
}
