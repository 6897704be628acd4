import { MapBlender, resampleRGBA, tissueMask } from '../../uncertainty/tiling';
import { emptyMaps } from '../../uncertainty/maps';
import { SlicedMapBlender, TimeSlicer, resampleRGBASliced, tissueMaskSliced, yieldToEventLoop } from '../slicing';

function rgba(w: number, h: number, seed = 7): Uint8ClampedArray {
  const out = new Uint8ClampedArray(w * h * 4);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = i % 4 === 3 ? (i % 37 === 3 ? 0 : 255) : (s >>> 8) & 255;
  }
  return out;
}

describe('time-sliced pixel work', () => {
  it('yields to the event loop', async () => {
    let ran = false;
    setTimeout(() => (ran = true), 0);
    await yieldToEventLoop();
    await new Promise(r => setTimeout(r, 1));
    expect(ran).toBe(true);
  });

  it('resamples exactly like resampleRGBA, down and up, yielding between rows', async () => {
    for (const [sw, sh, dw, dh] of [
      [131, 127, 56, 56],
      [37, 29, 80, 61],
      [16, 16, 16, 16]
    ]) {
      const src = rgba(sw, sh);
      const slicer = new TimeSlicer(0);
      const got = await resampleRGBASliced(src, sw, sh, dw, dh, slicer);
      expect(Buffer.from(got)).toEqual(Buffer.from(resampleRGBA(src, sw, sh, dw, dh)));
      if (sw !== dw) {
        expect(slicer.yields).toBeGreaterThan(0);
      }
    }
  });

  it('computes the tissue mask of tissueMask', async () => {
    const w = 300;
    const h = 250;
    const src = rgba(w, h, 3);
    // A grey band (glass) so Otsu has two modes.
    for (let i = 0; i < w * 80; i++) {
      src.set([230, 228, 232, 255], i * 4);
    }
    const slicer = new TimeSlicer(0);
    const got = await tissueMaskSliced(src, w, h, slicer);
    const want = tissueMask(src, w, h);
    expect(got.threshold).toBe(want.threshold);
    expect(Buffer.from(got.mask)).toEqual(Buffer.from(want.mask));
    expect(slicer.yields).toBeGreaterThan(0);
  });

  it('blends exactly like MapBlender', async () => {
    const W = 70;
    const H = 50;
    const a = new MapBlender(W, H, 2);
    const b = new SlicedMapBlender(W, H, 2);
    let s = 1;
    for (const [x, y] of [
      [0, 0],
      [24, 0],
      [40, 20],
      [-5, 30]
    ]) {
      const m = emptyMaps(32, 32, 2, 5);
      for (const arr of [m.meanProb, m.std, m.entropy, m.mutualInformation]) {
        for (let i = 0; i < arr.length; i++) {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          arr[i] = (s >>> 8) / 16777216;
        }
      }
      a.add(x, y, m);
      b.add(x, y, m);
    }
    const want = a.result();
    const got = await b.result(new TimeSlicer(0));
    expect(Buffer.from(got.covered)).toEqual(Buffer.from(want.covered));
    for (const k of ['meanProb', 'std', 'entropy', 'mutualInformation'] as const) {
      expect(Array.from(got.maps[k])).toEqual(Array.from(want.maps[k]));
    }
    expect(got.maps.samples).toBe(5);
  });
});
