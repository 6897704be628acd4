/**
 * From a ranked patch of the uncertainty maps to the `Correction` the
 * editor opens, and a small thumbnail of it for the queue. The mask is the
 * model's prediction; pixels outside the slide or not analysed are ignore,
 * and the image is transparent there (a partial patch is padded, never
 * stretched).
 */
import { Correction, IGNORE_LABEL } from '../tokens';
import type { ModelClassInfo } from '../engine/model';
import type { SuggestedPatch } from '../uncertainty/suggestions';
import { Mask, maskOf, outlineSegments, patchMask } from './mask';

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** A Correction id from any text: allowed characters kept, others '_', at most 128. */
export function correctionId(text: string): string {
  let id = text.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 128);
  if (!/^[A-Za-z0-9]/.test(id)) {
    id = ('p' + id).slice(0, 128);
  }
  return id;
}

export interface CorrectionSource {
  suggestion: SuggestedPatch;
  /** Predicted class per map pixel (`predictedClasses(maps)`), mapWidth * mapHeight. */
  labels: Uint8Array;
  mapWidth: number;
  mapHeight: number;
  /** Analysed tissue of the map; pixels at 0 become ignore. */
  covered?: Uint8Array;
  /**
   * RGBA of the patch's `valid` part at analysis resolution
   * (valid.width * valid.height * 4), as read from the slide.
   */
  validImage: Uint8ClampedArray;
  classes: ModelClassInfo[];
  /** Pyramid level the pixels were read from. */
  level: number;
  /** Level-0 pixels per analysis pixel (the `scale` given to suggestPatches). */
  downsample: number;
}

/** The Correction of a suggested patch (status 'suggested', mask = prediction). */
export function correctionFromSuggestion(src: CorrectionSource): Correction {
  const s = src.suggestion;
  const size = s.mapRect.width;
  if (s.mapRect.height !== size) {
    throw new Error(`A correction patch must be square, got ${s.mapRect.width} x ${s.mapRect.height}.`);
  }
  const { valid } = s;
  if (src.validImage.length !== valid.width * valid.height * 4) {
    throw new Error(
      `The patch image has ${src.validImage.length} values; its ${valid.width} x ${valid.height} slide part needs ${valid.width * valid.height * 4}.`
    );
  }
  if (src.classes.length < 1 || src.classes.length > 254) {
    throw new Error(`Corrections need 1 to 254 classes (255 is "ignore"); the model has ${src.classes.length}.`);
  }
  const mask = patchMask(src.labels, src.mapWidth, src.mapHeight, s.mapRect, size, { covered: src.covered, valid });
  const image = new Uint8ClampedArray(size * size * 4);
  const dx = valid.x - s.mapRect.x;
  const dy = valid.y - s.mapRect.y;
  for (let y = 0; y < valid.height; y++) {
    image.set(src.validImage.subarray(y * valid.width * 4, (y + 1) * valid.width * 4), ((y + dy) * size + dx) * 4);
  }
  const id = ID_PATTERN.test(s.id) ? s.id : correctionId(s.id);
  return {
    id,
    rank: s.rank,
    score: s.score,
    box: [s.x, s.y, s.width, s.height],
    level: src.level,
    downsample: src.downsample,
    patchSize: size,
    classes: src.classes,
    mask,
    image,
    status: 'suggested'
  };
}

/**
 * Draw a patch thumbnail: the image scaled to the canvas, the mask outline
 * (class edges, as line segments) over it. Ignore areas get a light veil.
 */
export function drawThumbnail(canvas: HTMLCanvasElement, c: Pick<Correction, 'image' | 'mask' | 'patchSize'>, outline = '#ffe600'): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) {
    return;
  }
  const size = c.patchSize;
  const src = document.createElement('canvas');
  src.width = size;
  src.height = size;
  const sctx = src.getContext('2d');
  if (!sctx) {
    return;
  }
  const img = sctx.createImageData(size, size);
  img.data.set(c.image);
  for (let i = 0; i < c.mask.length; i++) {
    if (c.mask[i] === IGNORE_LABEL) {
      img.data[i * 4 + 3] = Math.min(img.data[i * 4 + 3], 96);
    }
  }
  sctx.putImageData(img, 0, 0);
  const sx = canvas.width / size;
  const sy = canvas.height / size;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(src, 0, 0, canvas.width, canvas.height);
  const segs = outlineSegments(maskOf(c.mask, size, size) as Mask);
  ctx.beginPath();
  for (let i = 0; i < segs.length; i += 4) {
    ctx.moveTo(segs[i] * sx, segs[i + 1] * sy);
    ctx.lineTo(segs[i + 2] * sx, segs[i + 3] * sy);
  }
  ctx.strokeStyle = outline;
  ctx.lineWidth = Math.max(1, Math.min(2, canvas.width / 64));
  ctx.stroke();
}
