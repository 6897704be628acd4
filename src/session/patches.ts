/**
 * Pixels and masks of a suggested patch at the analysis resolution: what the
 * editor starts from and what the workspace writes. A patch that reaches past
 * the slide is padded: transparent pixels, mask value IGNORE_LABEL.
 */
import type { SlideSource } from '../slide/types';
import type { RegionResult } from '../engine/region';
import { resampleRGBA } from '../uncertainty/tiling';
import type { SuggestedPatch } from '../uncertainty/suggestions';
import { IGNORE_LABEL } from '../tokens';
import type { Correction, CorrectionStatus } from '../tokens';
import type { ModelClassInfo } from '../engine/model';

/** RGBA (patchSize² * 4) of the patch, read from the level the analysis used. */
export async function patchPixels(
  source: SlideSource,
  region: RegionResult,
  patch: SuggestedPatch,
  signal?: AbortSignal
): Promise<Uint8ClampedArray> {
  const size = patch.mapRect.width;
  const out = new Uint8ClampedArray(size * size * 4);
  const v = patch.valid;
  if (v.width < 1 || v.height < 1) {
    return out;
  }
  const level = source.info.levels.find(l => l.index === region.level) ?? source.info.levels[0];
  const scale = region.scale;
  // Level-0 rectangle of the valid part, then the same in the level's pixels.
  const x0 = region.region.x + v.x * scale;
  const y0 = region.region.y + v.y * scale;
  const lx = Math.max(0, Math.round(x0 / level.downsampleX));
  const ly = Math.max(0, Math.round(y0 / level.downsampleY));
  const lw = Math.max(1, Math.min(level.width - lx, Math.round((v.width * scale) / level.downsampleX)));
  const lh = Math.max(1, Math.min(level.height - ly, Math.round((v.height * scale) / level.downsampleY)));
  const px = await source.readRegion({ level: level.index, x: lx, y: ly, width: lw, height: lh }, { signal });
  const data = px.width === v.width && px.height === v.height ? px.data : resampleRGBA(px.data, px.width, px.height, v.width, v.height);
  const ox = v.x - patch.mapRect.x;
  const oy = v.y - patch.mapRect.y;
  for (let y = 0; y < v.height; y++) {
    const src = y * v.width * 4;
    out.set(data.subarray(src, src + v.width * 4), ((oy + y) * size + ox) * 4);
  }
  return out;
}

/** The model's prediction (arg-max class) over the patch; outside the slide = ignore. */
export function predictedPatchMask(region: RegionResult, patch: SuggestedPatch): Uint8Array {
  const size = patch.mapRect.width;
  const { maps } = region;
  const C = maps.classes;
  const out = new Uint8Array(size * size).fill(IGNORE_LABEL);
  const v = patch.valid;
  for (let y = v.y; y < v.y + v.height; y++) {
    for (let x = v.x; x < v.x + v.width; x++) {
      const i = y * maps.width + x;
      let best = 0;
      for (let c = 1; c < C; c++) {
        if (maps.meanProb[i * C + c] > maps.meanProb[i * C + best]) {
          best = c;
        }
      }
      out[(y - patch.mapRect.y) * size + (x - patch.mapRect.x)] = best;
    }
  }
  return out;
}

/** A `Correction` for the editor, starting from the model's prediction. */
export async function correctionFor(
  source: SlideSource,
  region: RegionResult,
  patch: SuggestedPatch,
  classes: ModelClassInfo[],
  status: CorrectionStatus = 'suggested',
  signal?: AbortSignal
): Promise<Correction> {
  const size = patch.mapRect.width;
  return {
    id: patch.id,
    rank: patch.rank,
    score: patch.score,
    box: [Math.round(patch.x), Math.round(patch.y), Math.round(patch.width), Math.round(patch.height)],
    level: region.level,
    downsample: region.scale,
    patchSize: size,
    classes,
    mask: predictedPatchMask(region, patch),
    image: await patchPixels(source, region, patch, signal),
    status
  };
}
