/**
 * Uncertainty of a slide region: tile it at the model's pixel size, skip
 * background, run MC dropout tile batch by tile batch, blend the tiles with
 * raised-cosine weights, stream each tile as it is ready.
 *
 * The pixel work done here (resampling, tissue mask, blending) runs in time
 * slices that yield to the event loop (slicing.ts), and the next batch is
 * read and prepared while the engine runs the current one, so with a worker
 * engine the page's thread never holds a long task.
 */
import type { SlideSource } from '../slide/types';
import { UncertaintyMaps } from '../uncertainty/maps';
import { TileRect, TissueMask, maskFraction, planTiles } from '../uncertainty/tiling';
import type { IUncertaintyEngine } from '../tokens';
import { PatchPixels, abortError } from './mcdropout';
import { SlicedMapBlender, TimeSlicer, pasteMaskSliced, resampleRGBASliced, sampleMaskSliced, tissueMaskSliced } from './slicing';

export interface RegionTile {
  index: number;
  /** Level-0 pixels. */
  rect: TileRect;
  /** Pixels of the region maps. */
  mapRect: TileRect;
  tissueFraction: number;
  analyzed: boolean;
}

export interface RegionTileResult extends RegionTile {
  maps: UncertaintyMaps;
}

export interface RegionResult {
  /** The requested level-0 rectangle. */
  region: TileRect;
  /** Pyramid level the pixels were read from. */
  level: number;
  /** Level-0 pixels per map pixel (model mpp / slide mpp). */
  scale: number;
  /** Blended maps over the region, `scale` level-0 px per pixel. */
  maps: UncertaintyMaps;
  /** 1 where some analysed tile covered the pixel; 0 = background, not analysed. */
  covered: Uint8Array;
  /**
   * Pixel-level tissue mask on the map grid (1 = tissue), from the coarse
   * mask or each tile's own pixels; glass inside analysed tiles is 0. The UI
   * uses it so neither the heatmap nor the suggestions dwell on empty glass.
   */
  tissue: Uint8Array;
  tiles: RegionTile[];
  /** Saturation threshold the tissue mask used. */
  tissueSaturationThreshold: number;
  /** True when the run was cancelled and the maps cover only the tiles analysed until then. */
  partial: boolean;
}

export interface AnalyzeRegionOptions {
  signal?: AbortSignal;
  /** In tiles; skipped background tiles count as done. */
  onProgress?: (p: { done: number; total: number }) => void;
  onTile?: (tile: RegionTileResult) => void;
  /** Overlap of neighbouring tiles in model pixels; default patchSize / 8. */
  overlap?: number;
  /** Tiles with a smaller tissue fraction are skipped; default 0.05. 0 analyses every tile. */
  tissueThreshold?: number;
  /** Tiles per engine call; default 1 (each tile streams out as soon as it is done). */
  tilesPerBatch?: number;
  /**
   * When cancelled after some tiles were analysed, return what they cover
   * (`partial: true`) instead of throwing; default false.
   */
  keepPartialOnAbort?: boolean;
  /** Longest stretch of pixel work before yielding to the event loop, ms; default 8. */
  sliceMs?: number;
}

/** Level-0 pixels per model pixel: model mpp / slide mpp; 1 when either is unknown. */
export function modelScale(modelMpp: number | undefined, slideMpp: number | undefined): number {
  return modelMpp && slideMpp && modelMpp > 0 && slideMpp > 0 ? modelMpp / slideMpp : 1;
}

/** The coarsest level that is still at least as fine as `downsample` (level 0 if none). */
export function finestLevelFor(levels: { index: number; downsampleX: number }[], downsample: number): number {
  let best = 0;
  let bestDs = 0;
  for (const l of levels) {
    if (l.downsampleX <= downsample * (1 + 1e-6) && l.downsampleX > bestDs) {
      best = l.index;
      bestDs = l.downsampleX;
    }
  }
  return best;
}

const MAX_MASK_PIXELS = 16 * 1024 * 1024;

export async function analyzeRegion(
  source: SlideSource,
  region: { x: number; y: number; width: number; height: number },
  engine: IUncertaintyEngine,
  options: AnalyzeRegionOptions = {}
): Promise<RegionResult> {
  const { signal } = options;
  if (signal?.aborted) {
    throw abortError();
  }
  const info = source.info;
  const [P] = engine.model.inputShape;
  const scale = modelScale(engine.model.metadata.mpp, info.mppX);
  const level = finestLevelFor(info.levels, scale);
  const levelInfo = info.levels.find(l => l.index === level) ?? info.levels[0];
  const mapW = Math.max(1, Math.round(region.width / scale));
  const mapH = Math.max(1, Math.round(region.height / scale));
  const overlap = options.overlap ?? Math.round(P / 8);
  const tissueThreshold = options.tissueThreshold ?? 0.05;
  const tileRects = planTiles(mapW, mapH, P, overlap);
  const slicer = new TimeSlicer(options.sliceMs);

  // Tissue mask on a low level: each tile should get about 16 x 16 mask pixels.
  // Only worth a separate read when that level is really coarser than the one
  // the tiles come from; otherwise (e.g. a single-level file) each tile is
  // judged on its own pixels, so nothing is read twice.
  let mask: TissueMask | null = null;
  let maskDs = 1;
  const maskLevel = finestLevelFor(info.levels, Math.max(1, (scale * P) / 16));
  const ml = info.levels.find(l => l.index === maskLevel) ?? info.levels[0];
  if (tissueThreshold > 0 && ml.downsampleX >= 2 * levelInfo.downsampleX) {
    maskDs = ml.downsampleX;
    const mx = Math.floor(region.x / maskDs);
    const my = Math.floor(region.y / ml.downsampleY);
    const mw = Math.max(1, Math.ceil(region.width / maskDs));
    const mh = Math.max(1, Math.ceil(region.height / ml.downsampleY));
    if (mw * mh <= MAX_MASK_PIXELS) {
      const px = await source.readRegion({ level: maskLevel, x: mx, y: my, width: mw, height: mh }, { signal });
      mask = await tissueMaskSliced(px.data, px.width, px.height, slicer);
    }
  }
  if (signal?.aborted) {
    throw abortError();
  }

  const tiles: RegionTile[] = tileRects.map((mapRect, index) => {
    const rect = {
      x: Math.round(region.x + mapRect.x * scale),
      y: Math.round(region.y + mapRect.y * scale),
      width: Math.round(P * scale),
      height: Math.round(P * scale)
    };
    let tissueFraction = 1;
    if (mask) {
      tissueFraction = maskFraction(mask, {
        x: (mapRect.x * scale) / maskDs,
        y: (mapRect.y * scale) / maskDs,
        width: (Math.min(P, mapW - mapRect.x) * scale) / maskDs,
        height: (Math.min(P, mapH - mapRect.y) * scale) / maskDs
      });
    }
    return { index, rect, mapRect, tissueFraction, analyzed: false };
  });

  const blender = new SlicedMapBlender(mapW, mapH, engine.model.classes);
  // Without a coarse mask, each analysed tile fills its part from its own pixels.
  const tileTissue = mask ? null : new Uint8Array(mapW * mapH);
  const total = tiles.length;
  let done = 0;
  const todo: RegionTile[] = [];
  for (const t of tiles) {
    if (t.tissueFraction >= tissueThreshold || tissueThreshold <= 0) {
      todo.push(t);
    } else {
      done++;
    }
  }
  options.onProgress?.({ done, total });
  const batch = Math.max(1, options.tilesPerBatch ?? 1);
  const ds = levelInfo.downsampleX;
  const dsY = levelInfo.downsampleY;
  let threshold = mask?.threshold ?? 0;

  let partial = false;
  const stopHere = (e: unknown): boolean => {
    // Cancelled with something analysed: keep it when asked to.
    if (options.keepPartialOnAbort && signal?.aborted && tiles.some(t => t.analyzed)) {
      partial = true;
      return true;
    }
    throw e;
  };
  /** Read a batch's tiles, resample them, judge their tissue; in slices. */
  const prepare = async (group: RegionTile[]): Promise<PatchPixels[]> => {
    const patches: PatchPixels[] = [];
    for (const t of group) {
      const lx = Math.round(t.rect.x / ds);
      const ly = Math.round(t.rect.y / dsY);
      const lw = Math.max(1, Math.round(t.rect.width / ds));
      const lh = Math.max(1, Math.round(t.rect.height / dsY));
      const px = await source.readRegion({ level, x: lx, y: ly, width: lw, height: lh }, { signal });
      await slicer.check();
      const data = px.width === P && px.height === P ? px.data : await resampleRGBASliced(px.data, px.width, px.height, P, P, slicer);
      if (!mask && tissueThreshold > 0) {
        // No coarser level (or a huge region): judge each tile on its own pixels.
        const m = await tissueMaskSliced(data, P, P, slicer);
        threshold = m.threshold;
        t.tissueFraction = maskFraction(m, { x: 0, y: 0, width: P, height: P });
        if (tileTissue) {
          await pasteMaskSliced(tileTissue, mapW, mapH, m, t.mapRect.x, t.mapRect.y, slicer);
        }
      }
      patches.push({ width: P, height: P, channels: 4, data });
    }
    return patches;
  };
  const groups: RegionTile[][] = [];
  for (let i = 0; i < todo.length; i += batch) {
    groups.push(todo.slice(i, i + batch));
  }
  // One batch ahead: its tiles are read and prepared while the engine runs this one.
  let next: Promise<PatchPixels[]> | null = groups.length > 0 ? prepare(groups[0]) : null;
  for (let g = 0; g < groups.length; g++) {
    const ready = next;
    next = null;
    // No prepared batch only when the run was cancelled while the previous one ran.
    if (!ready || signal?.aborted) {
      ready?.catch(() => undefined);
      if (stopHere(abortError())) {
        break;
      }
    }
    const group = groups[g];
    let patches: PatchPixels[];
    try {
      patches = await ready!;
    } catch (e) {
      stopHere(e);
      break;
    }
    const keep = group.map(t => mask !== null || tissueThreshold <= 0 || t.tissueFraction >= tissueThreshold);
    const toRun = patches.filter((_, k) => keep[k]);
    const running = toRun.length > 0 ? engine.run(toRun, { signal }) : Promise.resolve([]);
    if (g + 1 < groups.length && !signal?.aborted) {
      next = prepare(groups[g + 1]);
      // Awaited (or dropped on a stop) at the next iteration.
      next.catch(() => undefined);
    }
    let maps: UncertaintyMaps[];
    try {
      maps = await running;
    } catch (e) {
      stopHere(e);
      break;
    }
    let m = 0;
    for (let k = 0; k < group.length; k++) {
      const t = group[k];
      done++;
      if (!keep[k]) {
        continue;
      }
      const tileMaps = maps[m++];
      t.analyzed = true;
      blender.add(t.mapRect.x, t.mapRect.y, tileMaps);
      options.onTile?.({ ...t, maps: tileMaps });
      await slicer.check();
    }
    options.onProgress?.({ done, total });
  }
  const { maps, covered } = await blender.result(slicer);
  let tissue: Uint8Array;
  if (mask) {
    tissue = await sampleMaskSliced(mask, mapW, mapH, scale / maskDs, slicer);
  } else if (tissueThreshold > 0 && tileTissue) {
    tissue = tileTissue;
  } else {
    tissue = new Uint8Array(mapW * mapH).fill(1);
  }
  return { region: { ...region }, level, scale, maps, covered, tissue, tiles, tissueSaturationThreshold: threshold, partial };
}
