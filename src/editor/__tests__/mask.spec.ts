import { IGNORE_LABEL } from '../../tokens';
import { MaskHistory } from '../history';
import {
  Mask,
  buildPalette,
  colorize,
  createMask,
  eraseSegment,
  fillPolygon,
  floodFill,
  isHatch,
  outlinePixels,
  outlineSegments,
  padImage,
  padMask,
  patchMask,
  stampSegment,
  unionRect
} from '../mask';

function count(mask: Mask, value: number): number {
  return mask.data.reduce((n, v) => n + (v === value ? 1 : 0), 0);
}
function at(mask: Mask, x: number, y: number): number {
  return mask.data[y * mask.width + x];
}
/** Every pixel outside `r` still has `value`. */
function outsideUnchanged(mask: Mask, r: { x: number; y: number; width: number; height: number }, value: number): boolean {
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      const inside = x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
      if (!inside && at(mask, x, y) !== value) {
        return false;
      }
    }
  }
  return true;
}

describe('brush and eraser', () => {
  it('a dot paints a disc of the brush diameter', () => {
    const m = createMask(32, 32);
    const r = stampSegment(m, 16, 16, 16, 16, 10, 1)!;
    // Pixel centres within 5 of (16,16): area ~ pi * 25 = 78.5.
    expect(count(m, 1)).toBeGreaterThan(70);
    expect(count(m, 1)).toBeLessThan(90);
    expect(at(m, 16, 16)).toBe(1);
    expect(at(m, 11, 16)).toBe(1); // centre 11.5 is 4.5 away
    expect(at(m, 10, 16)).toBe(0); // centre 10.5 is 5.5 away
    expect(at(m, 11, 11)).toBe(0); // corner of the box: centre 6.4 away
    expect(at(m, 12, 12)).toBe(1); // centre 4.95 away
    expect(r).toEqual({ x: 11, y: 11, width: 10, height: 10 });
    expect(outsideUnchanged(m, r, 0)).toBe(true);
  });

  it('a fast stroke leaves no gap (capsule), size 1 draws a connected line', () => {
    const m = createMask(64, 16);
    const r = stampSegment(m, 2, 8, 60, 8, 4, 2)!;
    for (let x = 2; x < 60; x++) {
      expect(at(m, x, 8)).toBe(2);
      expect(at(m, x, 7)).toBe(2);
    }
    expect(outsideUnchanged(m, r, 0)).toBe(true);
    const thin = createMask(20, 20);
    stampSegment(thin, 0.5, 0.5, 19.5, 19.5, 1, 1);
    for (let i = 0; i < 20; i++) {
      expect(at(thin, i, i)).toBe(1);
    }
  });

  it('returns null when nothing changed, clips at the border, rejects a bad size', () => {
    const m = createMask(8, 8, 3);
    expect(stampSegment(m, 4, 4, 4, 4, 3, 3)).toBeNull();
    const r = stampSegment(m, 0, 0, 0, 0, 6, 1)!;
    expect(r.x).toBe(0);
    expect(r.y).toBe(0);
    expect(stampSegment(m, -50, -50, -40, -40, 2, 1)).toBeNull();
    expect(() => stampSegment(m, 1, 1, 2, 2, 0, 1)).toThrow(/Brush size/);
  });

  it('the eraser writes ignore by default, class 0 with "background"', () => {
    const m = createMask(16, 16, 1);
    eraseSegment(m, 4, 4, 4, 4, 3);
    expect(at(m, 4, 4)).toBe(IGNORE_LABEL);
    eraseSegment(m, 12, 12, 12, 12, 3, 'background');
    expect(at(m, 12, 12)).toBe(0);
    expect(count(m, 1)).toBe(256 - count(m, IGNORE_LABEL) - count(m, 0));
  });
});

describe('polygon fill', () => {
  it('fills pixels whose centres are inside, exactly for an axis-aligned rectangle', () => {
    const m = createMask(20, 20);
    const r = fillPolygon(m, [2, 3, 10, 3, 10, 8, 2, 8], 4)!;
    expect(r).toEqual({ x: 2, y: 3, width: 8, height: 5 });
    expect(count(m, 4)).toBe(40);
    expect(outsideUnchanged(m, r, 0)).toBe(true);
  });

  it('a triangle gets about its area; a self-crossing star leaves its centre empty (even-odd)', () => {
    const m = createMask(100, 100);
    fillPolygon(m, [0, 0, 100, 0, 0, 100], 1);
    expect(Math.abs(count(m, 1) - 5000)).toBeLessThan(100);
    const star = createMask(101, 101);
    const pts: number[] = [];
    for (let k = 0; k < 5; k++) {
      const a = -Math.PI / 2 + (k * 4 * Math.PI) / 5; // every second vertex of a pentagon: a pentagram
      pts.push(50 + 45 * Math.cos(a), 50 + 45 * Math.sin(a));
    }
    fillPolygon(star, pts, 1);
    expect(at(star, 50, 50)).toBe(0); // the inner pentagon is wound twice
    expect(at(star, 50, 10)).toBe(1); // a point of the star
  });

  it('polygon erase = fill with the erase value; fewer than 3 points does nothing', () => {
    const m = createMask(10, 10, 1);
    fillPolygon(m, [0, 0, 5, 0, 5, 5, 0, 5], IGNORE_LABEL);
    expect(count(m, IGNORE_LABEL)).toBe(25);
    expect(fillPolygon(m, [0, 0, 5, 5], 2)).toBeNull();
  });
});

describe('flood fill', () => {
  it('replaces the 4-connected region of the seed value only', () => {
    // A ring of 1 around a hole of 0, on 0: the outside and the hole are not 4-connected.
    const m = createMask(12, 12);
    fillPolygon(m, [2, 2, 10, 2, 10, 10, 2, 10], 1);
    fillPolygon(m, [4, 4, 8, 4, 8, 8, 4, 8], 0);
    // A diagonal-only contact is not a 4-connection.
    m.data[0] = 0;
    const r = floodFill(m, 0.5, 0.5, 3)!;
    expect(at(m, 6, 6)).toBe(0); // hole untouched
    expect(at(m, 3, 3)).toBe(1); // ring untouched
    expect(count(m, 3)).toBe(144 - 64); // everything outside the 8 x 8 ring square
    expect(r).toEqual({ x: 0, y: 0, width: 12, height: 12 });
    const hole = floodFill(m, 6, 6, 2)!;
    expect(hole).toEqual({ x: 4, y: 4, width: 4, height: 4 });
    expect(count(m, 2)).toBe(16);
    expect(floodFill(m, 6, 6, 2)).toBeNull();
    expect(floodFill(m, -1, 6, 2)).toBeNull();
  });

  it('fills a 512 x 512 maze-like region without recursion', () => {
    const m = createMask(512, 512);
    for (let x = 8; x < 512; x += 16) {
      // Walls with a gap alternating at the top and the bottom: one long serpentine region.
      const gapTop = (x / 16) % 2 === 0;
      for (let y = 0; y < 512; y++) {
        if (gapTop ? y >= 4 : y < 508) {
          m.data[y * 512 + x] = 1;
        }
      }
    }
    const walls = count(m, 1);
    floodFill(m, 0, 0, 2);
    expect(count(m, 2)).toBe(512 * 512 - walls);
  });
});

describe('undo / redo', () => {
  it('undoes and redoes strokes, storing only their rect', () => {
    const m = createMask(64, 64);
    const h = new MaskHistory(m);
    const initial = Uint8Array.from(m.data);
    h.begin();
    const r1 = stampSegment(m, 10, 10, 20, 10, 4, 1);
    expect(h.commit(r1)).toBe(true);
    const afterFirst = Uint8Array.from(m.data);
    h.begin();
    // One stroke of two pointer moves: the history gets the union of their rects.
    const r2 = unionRect(stampSegment(m, 30, 30, 40, 40, 6, 2), stampSegment(m, 40, 40, 50, 30, 6, 2))!;
    h.commit(r2);
    expect(h.bytes).toBe(r1!.width * r1!.height + r2.width * r2.height);
    expect(h.bytes).toBeLessThan(64 * 64);
    const afterSecond = Uint8Array.from(m.data);
    expect(h.undo()).toEqual(r2);
    expect(m.data).toEqual(afterFirst);
    h.undo();
    expect(m.data).toEqual(initial);
    expect(h.undo()).toBeNull();
    h.redo();
    h.redo();
    expect(m.data).toEqual(afterSecond);
    expect(h.redo()).toBeNull();
    // A new edit after an undo drops the redo branch.
    h.undo();
    h.begin();
    h.commit(floodFill(m, 0, 0, 5));
    expect(h.canRedo).toBe(false);
    expect(h.undoDepth).toBe(2);
  });

  it('a no-op edit is not recorded', () => {
    const m = createMask(8, 8, 1);
    const h = new MaskHistory(m);
    h.begin();
    expect(h.commit(stampSegment(m, 4, 4, 4, 4, 2, 1))).toBe(false);
    h.begin();
    expect(h.commit({ x: 0, y: 0, width: 8, height: 8 })).toBe(false);
    expect(h.canUndo).toBe(false);
    expect(() => h.commit(null)).toThrow(/without begin/);
  });

  it('is bounded by entries and by bytes, oldest dropped first', () => {
    const m = createMask(100, 100);
    const h = new MaskHistory(m, { maxEntries: 5, maxBytes: 1000 });
    const snaps: Uint8Array[] = [];
    for (let k = 0; k < 8; k++) {
      snaps.push(Uint8Array.from(m.data));
      h.begin();
      h.commit(stampSegment(m, 10 * k + 5, 50, 10 * k + 5, 50, 4, 1)); // 4 x 4 rect each
    }
    expect(h.undoDepth).toBe(5);
    for (let k = 0; k < 5; k++) {
      h.undo();
    }
    expect(m.data).toEqual(snaps[3]); // the first 3 strokes can no longer be undone
    expect(h.undo()).toBeNull();
    const big = new MaskHistory(m, { maxEntries: 100, maxBytes: 1000 });
    for (let k = 0; k < 6; k++) {
      big.begin();
      big.commit(fillPolygon(m, [0, 20 * k, 20, 20 * k, 20, 20 * k + 15, 0, 20 * k + 15], k + 2)); // 300 bytes each
    }
    expect(big.bytes).toBeLessThanOrEqual(1000);
    expect(big.undoDepth).toBe(3);
  });
});

describe('outline', () => {
  it('boundary pixels mark both sides of a class edge, not the mask border', () => {
    const m = createMask(6, 4);
    fillPolygon(m, [3, 0, 6, 0, 6, 4, 3, 4], 1);
    const o = outlinePixels(m);
    for (let y = 0; y < 4; y++) {
      expect(Array.from(o.subarray(y * 6, y * 6 + 6))).toEqual([0, 0, 1, 1, 0, 0]);
    }
    expect(outlinePixels(createMask(5, 5, 2)).every(v => v === 0)).toBe(true);
    // skip: pixels of that value are not outlined.
    const s = outlinePixels(m, 1);
    expect(Array.from(s.subarray(0, 6))).toEqual([0, 0, 1, 0, 0, 0]);
  });

  it('segments run along pixel edges, merged', () => {
    const m = createMask(8, 8);
    fillPolygon(m, [2, 2, 6, 2, 6, 5, 2, 5], 1); // 4 x 3 block at (2, 2)
    const s = Array.from(outlineSegments(m));
    const segs: number[][] = [];
    for (let i = 0; i < s.length; i += 4) {
      segs.push(s.slice(i, i + 4));
    }
    expect(segs).toEqual(
      expect.arrayContaining([
        [2, 2, 6, 2],
        [2, 5, 6, 5],
        [2, 2, 2, 5],
        [6, 2, 6, 5]
      ])
    );
    expect(segs.length).toBe(4);
  });
});

describe('patches and colours', () => {
  it('a partial patch is padded with ignore, uncovered pixels become ignore', () => {
    // 5 x 3 label map, a 4 x 4 patch at (3, 1): 2 x 2 inside the map.
    const labels = Uint8Array.from({ length: 15 }, (_, i) => i % 3);
    const covered = new Uint8Array(15).fill(1);
    covered[1 * 5 + 4] = 0;
    const p = patchMask(labels, 5, 3, { x: 3, y: 1 }, 4, { covered });
    expect(Array.from(p)).toEqual([
      labels[8],
      IGNORE_LABEL,
      255,
      255,
      labels[13],
      labels[14],
      255,
      255,
      255,
      255,
      255,
      255,
      255,
      255,
      255,
      255
    ]);
    expect(Array.from(padMask(new Uint8Array([1, 2]), 2, 1, 3, 1, 1))).toEqual([255, 255, 255, 255, 1, 2, 255, 255, 255]);
    const img = padImage(new Uint8ClampedArray([9, 8, 7, 6]), 1, 1, 2, 1, 0);
    expect(Array.from(img)).toEqual([0, 0, 0, 0, 9, 8, 7, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => padMask(new Uint8Array(3), 2, 2, 4)).toThrow(/expected 2 x 2/);
  });

  it('colorize writes only the given rect, class colours and hatched ignore', () => {
    const m = createMask(12, 12, 1);
    m.data[0] = IGNORE_LABEL; // (0,0): on a hatch line
    m.data[3] = IGNORE_LABEL; // (3,0): between hatch lines
    const pal = buildPalette(
      [
        [0, 0, 0],
        [200, 10, 20]
      ],
      128
    );
    const out = new Uint8ClampedArray(12 * 12 * 4).fill(7);
    colorize(m, pal, out, { x: 0, y: 0, width: 4, height: 1 });
    expect(isHatch(0, 0)).toBe(true);
    expect(isHatch(3, 0)).toBe(false);
    expect(Array.from(out.subarray(0, 4))).toEqual([255, 0, 255, 128]);
    expect(out[3 * 4 + 3]).toBe(0);
    expect(Array.from(out.subarray(4, 8))).toEqual([200, 10, 20, 128]);
    expect(out[4 * 4]).toBe(7); // outside the rect: untouched
  });
});
