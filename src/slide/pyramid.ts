/** Pure pyramid maths: which level to show and which tiles cover a viewport. */
import { SlideInfo, SlideLevel } from './types';

/** A rectangle in level-0 pixels. */
export interface Viewport {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** One native tile of a level; x..height is the tile rectangle in LEVEL-0 pixels. */
export interface TileRef {
  level: number;
  col: number;
  row: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

// Downsamples computed from integer sizes are slightly off (e.g. 4.0007): tolerate that.
const DOWNSAMPLE_TOLERANCE = 1e-3;

/**
 * Coarsest level whose resolution is still >= the screen's.
 * `scale` = screen pixels per level-0 pixel; the chosen level has the largest
 * downsample <= 1/scale, clamped to [0, levels-1].
 */
export function chooseLevel(info: SlideInfo, scale: number): number {
  const levels = info.levels;
  if (levels.length === 0) {
    return 0;
  }
  if (!(scale > 0) || !Number.isFinite(scale)) {
    // Zoomed out to nothing (or invalid): the coarsest level is the right answer.
    return scale > 0 ? 0 : levels.length - 1;
  }
  const maxDownsample = (1 / scale) * (1 + DOWNSAMPLE_TOLERANCE);
  let best = 0;
  for (let i = 0; i < levels.length; i++) {
    if (levelDownsample(levels[i]) <= maxDownsample && levelDownsample(levels[i]) >= levelDownsample(levels[best])) {
      best = i;
    }
  }
  return best;
}

/** The smaller of the two per-axis downsamples (conservative for anisotropic levels). */
export function levelDownsample(level: SlideLevel): number {
  return Math.min(level.downsampleX, level.downsampleY);
}

/** Number of tile columns and rows of a level. */
export function tileGrid(level: SlideLevel): { cols: number; rows: number } {
  return {
    cols: Math.ceil(level.width / level.tileWidth),
    rows: Math.ceil(level.height / level.tileHeight)
  };
}

/** Tiles of `level` that intersect the viewport (level-0 px), row-major, clipped to the level. */
export function visibleTiles(info: SlideInfo, level: number, viewport: Viewport): TileRef[] {
  const lv = info.levels[level];
  if (!lv || viewport.width <= 0 || viewport.height <= 0) {
    return [];
  }
  // Viewport in level pixels, clipped to the level.
  const x0 = Math.max(0, viewport.x / lv.downsampleX);
  const y0 = Math.max(0, viewport.y / lv.downsampleY);
  const x1 = Math.min(lv.width, (viewport.x + viewport.width) / lv.downsampleX);
  const y1 = Math.min(lv.height, (viewport.y + viewport.height) / lv.downsampleY);
  if (x1 <= x0 || y1 <= y0) {
    return [];
  }
  const col0 = Math.floor(x0 / lv.tileWidth);
  const row0 = Math.floor(y0 / lv.tileHeight);
  const col1 = Math.ceil(x1 / lv.tileWidth) - 1;
  const row1 = Math.ceil(y1 / lv.tileHeight) - 1;
  const tiles: TileRef[] = [];
  for (let row = row0; row <= row1; row++) {
    for (let col = col0; col <= col1; col++) {
      const lx = col * lv.tileWidth;
      const ly = row * lv.tileHeight;
      const w = Math.min(lv.tileWidth, lv.width - lx);
      const h = Math.min(lv.tileHeight, lv.height - ly);
      tiles.push({
        level,
        col,
        row,
        x: lx * lv.downsampleX,
        y: ly * lv.downsampleY,
        width: w * lv.downsampleX,
        height: h * lv.downsampleY
      });
    }
  }
  return tiles;
}

/** Scale (screen px per level-0 px) at which the whole slide fits a screen of the given size. */
export function fitScale(info: SlideInfo, screenWidth: number, screenHeight: number): number {
  return Math.min(screenWidth / info.width, screenHeight / info.height);
}
