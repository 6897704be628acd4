import { chooseLevel, fitScale, tileGrid, visibleTiles } from '../pyramid';
import { readRegionFromTiles } from '../region';
import { LruCache } from '../cache';
import { RegionPixels, SlideInfo, SlideLevel } from '../types';

function level(index: number, width: number, height: number, ds: number, tile = 256): SlideLevel {
  return { index, width, height, tileWidth: tile, tileHeight: tile, downsampleX: ds, downsampleY: ds };
}

// A 4-level pyramid like an SVS: 40000 x 30000, downsamples 1, 4, 16, 32 (with rounding).
const info: SlideInfo = {
  format: 'tiff',
  width: 40000,
  height: 30000,
  levels: [level(0, 40000, 30000, 1), level(1, 10000, 7500, 4), level(2, 2500, 1875, 16), level(3, 1249, 937, 40000 / 1249)],
  properties: {}
};

describe('chooseLevel', () => {
  it('keeps full resolution when zoomed in or at 1:1', () => {
    expect(chooseLevel(info, 2)).toBe(0);
    expect(chooseLevel(info, 1)).toBe(0);
    expect(chooseLevel(info, 0.5)).toBe(0); // downsample 2 < 4
  });
  it('picks the coarsest level still at least as sharp as the screen', () => {
    expect(chooseLevel(info, 0.25)).toBe(1);
    expect(chooseLevel(info, 0.2)).toBe(1);
    expect(chooseLevel(info, 1 / 16)).toBe(2);
    expect(chooseLevel(info, 1 / 20)).toBe(2);
    expect(chooseLevel(info, 1 / 33)).toBe(3);
  });
  it('tolerates downsamples a hair above the power of two', () => {
    const odd = { ...info, levels: [level(0, 40001, 30000, 1), level(1, 10000, 7500, 4.0001)] };
    expect(chooseLevel(odd, 0.25)).toBe(1);
  });
  it('clamps to the last level when zoomed far out, and handles invalid scales', () => {
    expect(chooseLevel(info, 1e-6)).toBe(3);
    expect(chooseLevel(info, 0)).toBe(3);
    expect(chooseLevel(info, Number.NaN)).toBe(3);
    expect(chooseLevel({ ...info, levels: [info.levels[0]] }, 1e-6)).toBe(0);
  });
});

describe('visibleTiles', () => {
  it('lists the tiles intersecting the viewport, with level-0 rectangles', () => {
    const tiles = visibleTiles(info, 1, { x: 1000, y: 2000, width: 2048, height: 1024 });
    // level 1: x 250..762, y 500..756 -> cols 0..2, rows 1..2
    expect(tiles.map(t => [t.col, t.row])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
      [0, 2],
      [1, 2],
      [2, 2]
    ]);
    expect(tiles[0]).toEqual({ level: 1, col: 0, row: 1, x: 0, y: 1024, width: 1024, height: 1024 });
  });
  it('clips edge tiles to the level and ignores what lies outside', () => {
    const tiles = visibleTiles(info, 3, { x: -5000, y: -5000, width: 1e6, height: 1e6 });
    const { cols, rows } = tileGrid(info.levels[3]);
    expect(tiles.length).toBe(cols * rows);
    const last = tiles[tiles.length - 1];
    expect(last.x + last.width).toBeCloseTo(40000, 6);
    expect(last.y + last.height).toBeCloseTo((30000 * (937 * (40000 / 1249))) / 30000, 6);
    expect(visibleTiles(info, 0, { x: 50000, y: 0, width: 100, height: 100 })).toEqual([]);
    expect(visibleTiles(info, 9, { x: 0, y: 0, width: 100, height: 100 })).toEqual([]);
  });
  it('covers a 1920x1080 screen at fit zoom with a handful of tiles', () => {
    const scale = fitScale(info, 1920, 1080);
    const lv = chooseLevel(info, scale);
    expect(lv).toBe(2);
    expect(visibleTiles(info, lv, { x: 0, y: 0, width: info.width, height: info.height }).length).toBe(10 * 8);
  });
});

describe('readRegionFromTiles', () => {
  it('assembles a region across tiles and fills the outside with transparent white', async () => {
    const lv = level(0, 5, 3, 1, 2);
    const tile = async (c: number, r: number): Promise<RegionPixels> => {
      const w = Math.min(2, 5 - c * 2);
      const h = Math.min(2, 3 - r * 2);
      const data = new Uint8ClampedArray(w * h * 4);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          data.set([c * 2 + x, r * 2 + y, 7, 255], (y * w + x) * 4);
        }
      }
      return { width: w, height: h, data };
    };
    const px = await readRegionFromTiles(lv, { level: 0, x: -1, y: 1, width: 7, height: 3 }, tile);
    const at = (x: number, y: number) => Array.from(px.data.slice((y * 7 + x) * 4, (y * 7 + x) * 4 + 4));
    expect(at(0, 0)).toEqual([255, 255, 255, 0]);
    expect(at(1, 0)).toEqual([0, 1, 7, 255]);
    expect(at(5, 1)).toEqual([4, 2, 7, 255]);
    expect(at(5, 2)).toEqual([255, 255, 255, 0]); // row 3 is outside
    expect(at(6, 1)).toEqual([255, 255, 255, 0]);
  });
});

describe('LruCache', () => {
  it('evicts least recently used entries to stay under the byte cap', () => {
    const c = new LruCache<string>(100);
    c.set('a', 'A', 40);
    c.set('b', 'B', 40);
    expect(c.get('a')).toBe('A'); // a is now most recent
    c.set('c', 'C', 40); // evicts b
    expect(c.has('b')).toBe(false);
    expect(c.has('a') && c.has('c')).toBe(true);
    expect(c.bytes).toBe(80);
    expect(c.size).toBe(2);
  });
  it('replaces, deletes, clears, refuses oversize values, and shrinks with maxBytes', () => {
    const c = new LruCache<number>(100);
    c.set('a', 1, 30);
    c.set('a', 2, 50);
    expect(c.get('a')).toBe(2);
    expect(c.bytes).toBe(50);
    c.set('huge', 3, 101);
    expect(c.has('huge')).toBe(false);
    c.set('b', 4, 50);
    c.maxBytes = 60;
    expect(c.size).toBe(1);
    expect(c.has('b')).toBe(true);
    c.delete('b');
    expect(c.bytes).toBe(0);
    c.set('x', 1, 10);
    c.clear();
    expect(c.size).toBe(0);
    const none = new LruCache<number>(0);
    none.set('a', 1, 1);
    expect(none.size).toBe(0);
  });
  it('hands every value that leaves the cache to onEvict exactly once (tiles close their ImageBitmap)', () => {
    const evicted: string[] = [];
    const c = new LruCache<{ name: string }>(100, v => evicted.push(v.name));
    c.set('a', { name: 'a' }, 40);
    c.set('b', { name: 'b' }, 40);
    c.set('c', { name: 'c' }, 40); // over budget: a goes
    expect(evicted).toEqual(['a']);
    c.set('b', { name: 'b2' }, 40); // replaced
    expect(evicted).toEqual(['a', 'b']);
    c.set('big', { name: 'big' }, 500); // never stored
    expect(evicted).toEqual(['a', 'b', 'big']);
    c.maxBytes = 40; // shrink: the least recent (c) goes, b2 stays
    expect(evicted).toEqual(['a', 'b', 'big', 'c']);
    expect(c.has('b')).toBe(true);
    c.delete('b');
    c.clear();
    expect(evicted).toEqual(['a', 'b', 'big', 'c', 'b2']);
  });
});
