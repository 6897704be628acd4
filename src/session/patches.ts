/**
 * Pixels and masks of a suggested patch at the analysis resolution: what the
 * editor starts from and what the workspace writes (padding of partial
 * patches: editor/correction.ts).
 */
import type { SlideSource } from '../slide/types';
import type { RegionResult } from '../engine/region';
import { resampleRGBA } from '../uncertainty/tiling';
import type { SuggestedPatch } from '../uncertainty/suggestions';
import { correctionFromSuggestion } from '../editor/correction';
import { predictedClasses } from '../uncertainty/maps';
import type { Correction, CorrectionStatus } from '../tokens';
import type { ModelClassInfo } from '../engine/model';

/** RGBA of the patch's part on the slide (`valid`), read from the level the analysis used. */
export async function validPixels(
  source: SlideSource,
  region: RegionResult,
  patch: SuggestedPatch,
  signal?: AbortSignal
): Promise<Uint8ClampedArray> {
  const v = patch.valid;
  if (v.width < 1 || v.height < 1) {
    return new Uint8ClampedArray(0);
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
  return px.width === v.width && px.height === v.height
    ? new Uint8ClampedArray(px.data.buffer, px.data.byteOffset, v.width * v.height * 4)
    : resampleRGBA(px.data, px.width, px.height, v.width, v.height);
}

const labelCache = new WeakMap<object, Uint8Array>();

/** Arg-max class per map pixel, computed once per result. */
export function resultLabels(region: RegionResult): Uint8Array {
  let labels = labelCache.get(region.maps);
  if (!labels) {
    labels = predictedClasses(region.maps);
    labelCache.set(region.maps, labels);
  }
  return labels;
}

/**
 * A `Correction` for the editor: the slide pixels of the patch and the
 * model's prediction as the starting mask (outside the slide or the
 * analysed area: ignore).
 */
export async function correctionFor(
  source: SlideSource,
  region: RegionResult,
  patch: SuggestedPatch,
  classes: ModelClassInfo[],
  status: CorrectionStatus = 'suggested',
  signal?: AbortSignal
): Promise<Correction> {
  const validImage = await validPixels(source, region, patch, signal);
  const c = correctionFromSuggestion({
    suggestion: patch,
    labels: resultLabels(region),
    mapWidth: region.maps.width,
    mapHeight: region.maps.height,
    covered: region.covered,
    validImage,
    classes,
    level: region.level,
    downsample: region.scale
  });
  return { ...c, status };
}
