/**
 * A slide's ground-truth mask, for Dice before and after each round of
 * corrections: a sibling `<slide>.mask.png` / `<slide>.mask.tif` (or a file
 * the user chose), read once, compared with each analysis result over the
 * analysed region.
 */
import { decode as decodePng } from 'fast-png';
import { IGNORE_LABEL } from '../tokens';
import type { RegionResult } from '../engine/region';
import { accumulateDice, diceFromCounts, emptyDiceCounts } from '../training/dice';
import type { DiceSummary } from '../training/dice';

/** File names tried next to a slide, in order. */
export function groundTruthCandidates(slidePath: string): string[] {
  return ['.mask.png', '.mask.tif', '.mask.tiff'].map(ext => `${slidePath}${ext}`);
}

/** A class-index mask covering the whole slide (any resolution: it is scaled to level 0). */
export interface GroundTruth {
  path: string;
  width: number;
  height: number;
  /** Class index per pixel; IGNORE_LABEL = not annotated. */
  labels: Uint8Array;
}

export class GroundTruthError extends Error {}

/**
 * Grey values to class indices. A mask holding only 0 and 255 with a
 * two-class model is binary (255 = foreground), as EBHI-Seg's masks are and as
 * jupyterlab_uga.data.read_mask reads them; otherwise values are class
 * indices and 255 means "ignore".
 */
export function toClassLabels(grey: Uint8Array, classes: number): Uint8Array {
  let binary255 = classes === 2;
  let bad = -1;
  for (let i = 0; i < grey.length; i++) {
    const v = grey[i];
    if (v !== 0 && v !== 255) {
      binary255 = false;
      if (v >= classes && bad < 0) {
        bad = v;
      }
    }
  }
  if (binary255) {
    return grey.map(v => (v === 255 ? 1 : 0));
  }
  if (bad >= 0) {
    throw new GroundTruthError(`holds the value ${bad}, but the model has ${classes} classes (0-${classes - 1}; 255 = ignore)`);
  }
  return grey;
}

/** The first channel of an 8-bit image (grey, grey+alpha, RGB or RGBA). */
function firstChannel(data: ArrayLike<number>, pixels: number, channels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) {
    out[i] = data[i * channels];
  }
  return out;
}

/** Decode a mask file's bytes (PNG or TIFF) to grey values. */
export async function decodeMask(bytes: ArrayBuffer, path: string): Promise<{ width: number; height: number; grey: Uint8Array }> {
  const head = new Uint8Array(bytes, 0, Math.min(4, bytes.byteLength));
  if (head[0] === 0x89 && head[1] === 0x50) {
    const png = decodePng(new Uint8Array(bytes));
    if (png.depth !== 8) {
      throw new GroundTruthError(`is a ${png.depth}-bit PNG; masks must be 8-bit`);
    }
    return { width: png.width, height: png.height, grey: firstChannel(png.data, png.width * png.height, png.channels) };
  }
  if ((head[0] === 0x49 && head[1] === 0x49) || (head[0] === 0x4d && head[1] === 0x4d)) {
    const { fromArrayBuffer } = await import('geotiff');
    const tiff = await fromArrayBuffer(bytes);
    // The largest page that is not huge: a whole-slide mask may be pyramidal.
    const count = await tiff.getImageCount();
    let image = await tiff.getImage(0);
    for (let i = 1; i < count && image.getWidth() * image.getHeight() > 64e6; i++) {
      image = await tiff.getImage(i);
    }
    const width = image.getWidth();
    const height = image.getHeight();
    const raster = (await image.readRasters({ samples: [0], interleave: true })) as unknown as ArrayLike<number>;
    return { width, height, grey: firstChannel(raster, width * height, 1) };
  }
  throw new GroundTruthError(`${path} is neither a PNG nor a TIFF`);
}

/** Read and check a ground-truth mask for a model with `classes` classes. */
export async function readGroundTruth(path: string, bytes: ArrayBuffer, classes: number): Promise<GroundTruth> {
  try {
    const { width, height, grey } = await decodeMask(bytes, path);
    return { path, width, height, labels: toClassLabels(grey, classes) };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new GroundTruthError(`Ground truth ${path} ${e instanceof GroundTruthError ? why : `cannot be read: ${why}`}`);
  }
}

/**
 * The truth sampled on an analysis result's map grid (nearest pixel at each
 * map pixel's centre), IGNORE_LABEL where the map is not analysed.
 */
export function truthOnMap(truth: GroundTruth, result: RegionResult, slideWidth: number, slideHeight: number): Uint8Array {
  const { width, height } = result.maps;
  const { x, y } = result.region;
  const sx = truth.width / slideWidth;
  const sy = truth.height / slideHeight;
  const out = new Uint8Array(width * height).fill(IGNORE_LABEL);
  for (let my = 0; my < height; my++) {
    const ty = Math.floor((y + (my + 0.5) * result.scale) * sy);
    if (ty < 0 || ty >= truth.height) {
      continue;
    }
    for (let mx = 0; mx < width; mx++) {
      const i = my * width + mx;
      if (!result.covered[i]) {
        continue;
      }
      const tx = Math.floor((x + (mx + 0.5) * result.scale) * sx);
      if (tx >= 0 && tx < truth.width) {
        out[i] = truth.labels[ty * truth.width + tx];
      }
    }
  }
  return out;
}

/** Dice of an analysis result's arg-max labels against the truth, over the analysed pixels. */
export function diceOfResult(
  truth: GroundTruth,
  result: RegionResult,
  labels: Uint8Array,
  classes: number,
  slideWidth: number,
  slideHeight: number
): DiceSummary {
  const t = truthOnMap(truth, result, slideWidth, slideHeight);
  return diceFromCounts(accumulateDice(emptyDiceCounts(classes), labels, t));
}

/**
 * The truth over a patch (`box` in level-0 pixels, `size` x `size` analysis
 * pixels): what an oracle (or a teacher showing the answer) would paint.
 */
export function truthForPatch(
  truth: GroundTruth,
  box: readonly [number, number, number, number],
  size: number,
  slideWidth: number,
  slideHeight: number
): Uint8Array {
  const [bx, by, bw, bh] = box;
  const sx = truth.width / slideWidth;
  const sy = truth.height / slideHeight;
  const out = new Uint8Array(size * size).fill(IGNORE_LABEL);
  for (let py = 0; py < size; py++) {
    const ty = Math.floor((by + ((py + 0.5) * bh) / size) * sy);
    if (ty < 0 || ty >= truth.height) {
      continue;
    }
    for (let px = 0; px < size; px++) {
      const tx = Math.floor((bx + ((px + 0.5) * bw) / size) * sx);
      if (tx >= 0 && tx < truth.width) {
        out[py * size + px] = truth.labels[ty * truth.width + tx];
      }
    }
  }
  return out;
}
