/**
 * Pure maths of the deep-zoom view: where the slide sits on screen.
 *
 * The view maps level-0 pixel p to screen pixel s = (p - origin) * scale, so
 * `origin` is the level-0 point at the top-left of the panel and `scale` the
 * screen pixels per level-0 pixel.
 */
export interface ViewState {
  scale: number;
  x: number;
  y: number;
}

export interface Size {
  width: number;
  height: number;
}

/** Smallest and largest zoom relative to the fit view / to level 0. */
export const MIN_ZOOM_OF_FIT = 0.25;
export const MAX_SCALE = 8;

/** The whole image centred in the view with a small margin. */
export function fitView(image: Size, view: Size, margin = 8): ViewState {
  const w = Math.max(1, view.width - 2 * margin);
  const h = Math.max(1, view.height - 2 * margin);
  const scale = Math.min(w / image.width, h / image.height);
  return {
    scale,
    x: image.width / 2 - view.width / 2 / scale,
    y: image.height / 2 - view.height / 2 / scale
  };
}

export function scaleLimits(image: Size, view: Size): [number, number] {
  const fit = fitView(image, view).scale;
  return [Math.min(fit * MIN_ZOOM_OF_FIT, MAX_SCALE), MAX_SCALE];
}

/** Zoom by `factor` keeping the image point under screen point (sx, sy) fixed. */
export function zoomAt(state: ViewState, factor: number, sx: number, sy: number, limits: [number, number] = [0, Infinity]): ViewState {
  const scale = Math.min(limits[1], Math.max(limits[0], state.scale * factor));
  const px = state.x + sx / state.scale;
  const py = state.y + sy / state.scale;
  return { scale, x: px - sx / scale, y: py - sy / scale };
}

/** Move the view by a drag of (dx, dy) screen pixels. */
export function panBy(state: ViewState, dx: number, dy: number): ViewState {
  return { scale: state.scale, x: state.x - dx / state.scale, y: state.y - dy / state.scale };
}

/** Keep part of the image on screen: the view centre stays inside the image. */
export function clampView(state: ViewState, image: Size, view: Size): ViewState {
  const cx = state.x + view.width / 2 / state.scale;
  const cy = state.y + view.height / 2 / state.scale;
  const ccx = Math.min(image.width, Math.max(0, cx));
  const ccy = Math.min(image.height, Math.max(0, cy));
  return { scale: state.scale, x: state.x + (ccx - cx), y: state.y + (ccy - cy) };
}

/** The level-0 rectangle the view shows. */
export function viewportOf(state: ViewState, view: Size) {
  return {
    x: state.x,
    y: state.y,
    width: view.width / state.scale,
    height: view.height / state.scale
  };
}

export function screenToImage(state: ViewState, sx: number, sy: number): [number, number] {
  return [state.x + sx / state.scale, state.y + sy / state.scale];
}

/**
 * A scale bar of a "nice" length (1, 2 or 5 times a power of ten, in µm or mm)
 * close to `targetPx` screen pixels long.
 */
export function niceScaleBar(mpp: number, scale: number, targetPx = 120): { px: number; label: string } | null {
  if (!(mpp > 0) || !(scale > 0)) {
    return null;
  }
  const umPerScreenPx = mpp / scale;
  const targetUm = targetPx * umPerScreenPx;
  const pow = Math.pow(10, Math.floor(Math.log10(targetUm)));
  let best = pow;
  for (const m of [1, 2, 5, 10]) {
    if (m * pow <= targetUm) {
      best = m * pow;
    }
  }
  const px = best / umPerScreenPx;
  const label = best >= 1000 ? `${+(best / 1000).toPrecision(3)} mm` : `${+best.toPrecision(3)} µm`;
  return { px, label };
}

/** "12.5%"-style zoom label relative to level 0. */
export function zoomLabel(scale: number): string {
  const pct = scale * 100;
  return pct >= 10 ? `${Math.round(pct)}%` : `${pct.toPrecision(2)}%`;
}
