import Konva from 'konva';
import type { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import { heatmapRGBA, maskRGBA, measureScale, measureValues, MeasureScale } from '../analysis/heatmap';
import { resultLabels } from '../session/patches';
import { nextTask } from './nextTask';
import type { RegionTileResult } from '../engine/region';
import type { AnalysisResult, CorrectionStatus, ISlideSession, ISlideSettings } from '../tokens';

/**
 * The analysis drawn over the slide, one Konva layer each so they toggle and
 * fade independently: predicted mask ('uga-mask'), uncertainty heatmap
 * ('uga-heatmap'), patch boxes ('uga-patches'). Maps are drawn once into
 * canvases at map resolution and placed as level-0-anchored images, so
 * they stay registered with the slide at every zoom without redrawing.
 */
export class AnalysisOverlays implements IDisposable {
  constructor(session: ISlideSession) {
    this._session = session;
    session.analysis.stateChanged.connect(this._onState, this);
    session.analysis.tileAnalyzed.connect(this._onTile, this);
    session.analysis.resultChanged.connect(this._onResult, this);
    session.settingsChanged.connect(this._onSettings, this);
    session.review.changed.connect(() => {
      this._ensureLayers();
      this._drawBoxes();
      this._drawCorrections();
    }, this);
    session.review.currentChanged.connect(() => this._drawBoxes(), this);
  }

  /** The colour scale of the heatmap now shown (for the legend), or null. */
  get scale(): MeasureScale | null {
    return this._scale;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._removeLayers();
    Signal.clearData(this);
  }

  private _onState(): void {
    const a = this._session.analysis;
    if (a.state === 'running') {
      // A new run: a fresh streaming heatmap over the requested region.
      this._removeLayers();
    } else if ((a.state === 'cancelled' || a.state === 'error') && !a.result) {
      this._removeLayers();
    }
  }

  /** Tiles stream in while a run goes: paint each into the heatmap canvas. */
  private _onTile(_: unknown, tile: RegionTileResult): void {
    const viewer = this._session.viewer;
    if (!viewer) {
      return;
    }
    const s = this._session.settings;
    this._ensureLayers();
    const layer = this._heatLayer;
    if (!layer) {
      return;
    }
    const canvas = document.createElement('canvas');
    canvas.width = tile.maps.width;
    canvas.height = tile.maps.height;
    const values = measureValues(tile.maps, s.heatmap, this._foreground());
    const scale = measureScale(values, s.heatmap);
    const rgba = heatmapRGBA(values, tile.maps.width, tile.maps.height, { ceiling: scale.ceiling, floor: scale.floor });
    canvas.getContext('2d')?.putImageData(new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, tile.maps.width, tile.maps.height), 0, 0);
    layer.add(
      new Konva.Image({
        image: canvas,
        x: tile.rect.x,
        y: tile.rect.y,
        width: tile.rect.width,
        height: tile.rect.height,
        listening: false,
        name: 'uga-heatmap-tile'
      })
    );
    layer.visible(s.showHeatmap);
    layer.batchDraw();
  }

  private _onResult(_: unknown, result: AnalysisResult | null): void {
    if (!result) {
      this._drawRun++;
      this._removeLayers();
      this._scale = null;
      return;
    }
    // Each layer in its own task: together they are one long main-thread task on a large map.
    const run = ++this._drawRun;
    this._drawBoxes();
    this._drawHeatmap();
    void (async () => {
      await nextTask();
      if (run !== this._drawRun || this._disposed) {
        return;
      }
      this._labels = resultLabels(result.region);
      await nextTask();
      if (run !== this._drawRun || this._disposed) {
        return;
      }
      this._drawMask();
    })();
  }

  private _onSettings(_: unknown, s: ISlideSettings): void {
    const last = this._lastSettings;
    this._lastSettings = s;
    if (!this._session.analysis.result) {
      return;
    }
    if (!last || last.heatmap !== s.heatmap) {
      this._drawHeatmap();
    }
    if (!last || last.maskStyle !== s.maskStyle) {
      this._drawMask();
    }
    this._applyVisibility();
  }

  private _foreground(): number {
    return this._session.analysis.result?.model.metadata.foregroundClass ?? 1;
  }

  private _ensureLayers(): void {
    const viewer = this._session.viewer;
    if (!viewer || this._heatLayer) {
      return;
    }
    this._maskLayer = viewer.addOverlayLayer('uga-mask');
    this._maskLayer.listening(false);
    // Class edges stay crisp when zoomed in; the heatmap is smoothed.
    this._maskLayer.imageSmoothingEnabled(false);
    this._heatLayer = viewer.addOverlayLayer('uga-heatmap');
    this._heatLayer.listening(false);
    this._correctionLayer = viewer.addOverlayLayer('uga-corrections');
    this._correctionLayer.listening(false);
    this._correctionLayer.imageSmoothingEnabled(false);
    this._boxLayer = viewer.addOverlayLayer('uga-patches');
    this._boxLayer.listening(false);
    this._applyVisibility();
  }

  private _applyVisibility(): void {
    const s = this._session.settings;
    this._heatLayer?.visible(s.showHeatmap).opacity(s.heatmapOpacity);
    this._maskLayer?.visible(s.showMask).opacity(s.maskOpacity);
    this._boxLayer?.visible(s.showBoxes);
    this._correctionLayer?.visible(s.showMask || s.showBoxes).opacity(s.maskOpacity);
    for (const l of [this._heatLayer, this._maskLayer, this._boxLayer, this._correctionLayer]) {
      l?.batchDraw();
    }
  }

  private _drawHeatmap(): void {
    const result = this._session.analysis.result;
    if (!result) {
      return;
    }
    this._ensureLayers();
    const layer = this._heatLayer;
    if (!layer) {
      return;
    }
    const s = this._session.settings;
    const { maps, region } = result.region;
    const values = measureValues(maps, s.heatmap, this._foreground());
    this._scale = measureScale(values, s.heatmap, result.onTissue);
    const rgba = heatmapRGBA(values, maps.width, maps.height, {
      covered: result.onTissue,
      ceiling: this._scale.ceiling,
      floor: this._scale.floor
    });
    layer.destroyChildren();
    layer.add(this._image(rgba, maps.width, maps.height, region, 'uga-heatmap-image'));
    this._applyVisibility();
  }

  private _drawMask(): void {
    const result = this._session.analysis.result;
    if (!result || !this._labels) {
      return;
    }
    this._ensureLayers();
    const layer = this._maskLayer;
    if (!layer) {
      return;
    }
    const { maps, region } = result.region;
    const colors = result.model.metadata.classes.map(c => c.color);
    const rgba = maskRGBA(this._labels, maps.width, maps.height, colors, this._session.settings.maskStyle, result.onTissue);
    layer.destroyChildren();
    layer.add(this._image(rgba, maps.width, maps.height, region, 'uga-mask-image'));
    this._applyVisibility();
  }

  /** The corrected masks, in class colours over their boxes (what the workspace holds). */
  private _drawCorrections(): void {
    const layer = this._correctionLayer;
    if (!layer) {
      return;
    }
    layer.destroyChildren();
    for (const item of this._session.review.items) {
      const c = item.correction;
      if (item.status !== 'corrected' || !c) {
        continue;
      }
      const rgba = maskRGBA(
        c.mask,
        c.patchSize,
        c.patchSize,
        c.classes.map(k => k.color),
        'fill'
      );
      const [x, y, width, height] = c.box;
      layer.add(this._image(rgba, c.patchSize, c.patchSize, { x, y, width, height }, `uga-correction-${item.suggestion.rank}`));
    }
    layer.batchDraw();
  }

  private _drawBoxes(): void {
    const layer = this._boxLayer;
    const review = this._session.review;
    if (!layer) {
      return;
    }
    layer.destroyChildren();
    const css = getComputedStyle(document.body);
    const colour = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
    const colours: Record<CorrectionStatus, string> = {
      suggested: colour('--jp-brand-color1', '#1976d2'),
      corrected: colour('--jp-success-color1', '#388e3c'),
      skipped: colour('--jp-ui-font-color3', '#9e9e9e')
    };
    for (const item of review.items) {
      const s = item.suggestion;
      const current = review.current === s.rank;
      const c = colours[item.status];
      layer.add(
        new Konva.Rect({
          x: s.x,
          y: s.y,
          width: s.width,
          height: s.height,
          stroke: c,
          strokeWidth: current ? 4 : 2,
          dash: item.status === 'skipped' ? [6, 4] : undefined,
          strokeScaleEnabled: false,
          name: `uga-patch-${s.rank}`
        }),
        new Konva.Text({
          x: s.x + 4,
          y: s.y + 4,
          text: String(s.rank),
          fontSize: Math.max(12, s.height / 8),
          fill: c,
          fontStyle: 'bold'
        })
      );
    }
    layer.batchDraw();
  }

  private _image(
    rgba: Uint8ClampedArray,
    w: number,
    h: number,
    region: { x: number; y: number; width: number; height: number },
    name: string
  ): Konva.Image {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    canvas.getContext('2d')?.putImageData(new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, w, h), 0, 0);
    // The mask is drawn nearest-neighbour (class edges stay crisp), the heatmap smoothed.
    return new Konva.Image({ image: canvas, x: region.x, y: region.y, width: region.width, height: region.height, listening: false, name });
  }

  private _removeLayers(): void {
    const viewer = this._session.viewer;
    for (const l of [this._heatLayer, this._maskLayer, this._boxLayer, this._correctionLayer]) {
      if (l && viewer) {
        viewer.removeOverlayLayer(l);
      }
    }
    this._heatLayer = this._maskLayer = this._boxLayer = this._correctionLayer = null;
  }

  private _session: ISlideSession;
  private _heatLayer: Konva.Layer | null = null;
  private _maskLayer: Konva.Layer | null = null;
  private _boxLayer: Konva.Layer | null = null;
  private _correctionLayer: Konva.Layer | null = null;
  private _labels: Uint8Array | null = null;
  private _drawRun = 0;
  private _scale: MeasureScale | null = null;
  private _lastSettings: ISlideSettings | null = null;
  private _disposed = false;
}
