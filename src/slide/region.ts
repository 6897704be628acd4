/** Composing a region of a level from its tiles (pure, no I/O). */
import { transparentWhite } from './colour';
import { LevelRect, RegionPixels, SlideLevel } from './types';

/** Copy a w x h block of RGBA pixels from src (at sx, sy) into dst (at dx, dy). */
export function copyRgba(src: RegionPixels, sx: number, sy: number, dst: RegionPixels, dx: number, dy: number, w: number, h: number): void {
  for (let r = 0; r < h; r++) {
    const from = ((sy + r) * src.width + sx) * 4;
    dst.data.set(src.data.subarray(from, from + w * 4), ((dy + r) * dst.width + dx) * 4);
  }
}

/**
 * Read `rect` of a level by reading the tiles it overlaps (in parallel) and
 * copying their parts; what lies outside the level stays transparent white.
 */
export async function readRegionFromTiles(
  level: SlideLevel,
  rect: LevelRect,
  readTile: (col: number, row: number) => Promise<RegionPixels>
): Promise<RegionPixels> {
  const width = Math.max(0, Math.round(rect.width));
  const height = Math.max(0, Math.round(rect.height));
  const out: RegionPixels = { width, height, data: transparentWhite(width, height) };
  const rx = Math.round(rect.x);
  const ry = Math.round(rect.y);
  const x0 = Math.max(0, rx);
  const y0 = Math.max(0, ry);
  const x1 = Math.min(level.width, rx + width);
  const y1 = Math.min(level.height, ry + height);
  if (x1 <= x0 || y1 <= y0) {
    return out;
  }
  const jobs: Promise<void>[] = [];
  for (let row = Math.floor(y0 / level.tileHeight); row * level.tileHeight < y1; row++) {
    for (let col = Math.floor(x0 / level.tileWidth); col * level.tileWidth < x1; col++) {
      jobs.push(
        readTile(col, row).then(tile => {
          const tx = col * level.tileWidth;
          const ty = row * level.tileHeight;
          const ix0 = Math.max(x0, tx);
          const iy0 = Math.max(y0, ty);
          const ix1 = Math.min(x1, tx + tile.width);
          const iy1 = Math.min(y1, ty + tile.height);
          if (ix1 > ix0 && iy1 > iy0) {
            copyRgba(tile, ix0 - tx, iy0 - ty, out, ix0 - rx, iy0 - ry, ix1 - ix0, iy1 - iy0);
          }
        })
      );
    }
  }
  await Promise.all(jobs);
  return out;
}
