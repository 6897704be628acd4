import { clampView, fitView, niceScaleBar, panBy, scaleLimits, screenToImage, viewportOf, zoomAt, zoomLabel } from '../viewTransform';

describe('view transform', () => {
  const image = { width: 4000, height: 2000 };
  const view = { width: 816, height: 616 };

  it('fits the whole image, centred, inside the margin', () => {
    const v = fitView(image, view, 8);
    expect(v.scale).toBeCloseTo(800 / 4000);
    const vp = viewportOf(v, view);
    // The image is fully inside the viewport and centred.
    expect(vp.x).toBeLessThanOrEqual(0);
    expect(vp.y).toBeLessThanOrEqual(0);
    expect(vp.x + vp.width).toBeGreaterThanOrEqual(4000);
    expect(vp.x + vp.width / 2).toBeCloseTo(2000);
    expect(vp.y + vp.height / 2).toBeCloseTo(1000);
  });

  it('zooms around the cursor: the point under it does not move', () => {
    const v = fitView(image, view);
    const before = screenToImage(v, 100, 200);
    const z = zoomAt(v, 2.5, 100, 200);
    const after = screenToImage(z, 100, 200);
    expect(z.scale).toBeCloseTo(v.scale * 2.5);
    expect(after[0]).toBeCloseTo(before[0]);
    expect(after[1]).toBeCloseTo(before[1]);
  });

  it('clamps zoom to the limits', () => {
    const v = fitView(image, view);
    const [lo, hi] = scaleLimits(image, view);
    expect(zoomAt(v, 1e6, 0, 0, [lo, hi]).scale).toBe(hi);
    expect(zoomAt(v, 1e-6, 0, 0, [lo, hi]).scale).toBe(lo);
  });

  it('pans by screen pixels in image units', () => {
    const v = { scale: 0.5, x: 100, y: 100 };
    const p = panBy(v, 50, -20);
    expect(p.x).toBeCloseTo(0);
    expect(p.y).toBeCloseTo(140);
  });

  it('keeps the view centre inside the image', () => {
    const v = { scale: 1, x: -10000, y: 50000 };
    const c = clampView(v, image, view);
    const vp = viewportOf(c, view);
    expect(vp.x + vp.width / 2).toBeCloseTo(0);
    expect(vp.y + vp.height / 2).toBeCloseTo(2000);
  });

  it('picks a nice scale bar length', () => {
    // 0.5 µm/px at 100% zoom: 120 screen px = 60 µm -> 50 µm bar of 100 px.
    expect(niceScaleBar(0.5, 1, 120)).toEqual({ px: 100, label: '50 µm' });
    // zoomed out 100x: 120 px = 6000 µm -> 5 mm
    const bar = niceScaleBar(0.5, 0.01, 120)!;
    expect(bar.label).toBe('5 mm');
    expect(bar.px).toBeCloseTo(100);
    expect(niceScaleBar(0, 1)).toBeNull();
  });

  it('labels zoom relative to level 0', () => {
    expect(zoomLabel(1)).toBe('100%');
    expect(zoomLabel(0.125)).toBe('13%');
    expect(zoomLabel(0.012)).toBe('1.2%');
  });
});
