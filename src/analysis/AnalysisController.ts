import Konva from 'konva';
import { Signal, ISignal } from '@lumino/signaling';
import { PathExt } from '@jupyterlab/coreutils';
import type { RegionResult, RegionTileResult } from '../engine';
import type { PatchSuggestion, ScoreStrategy, UncertaintyMaps } from '../uncertainty';
import type { SlidePanel } from '../widgets/SlidePanel';
import type { ISlideSettings } from '../tokens';
import { EngineService } from './EngineService';
import { heatmapRGBA } from './heatmap';

/** Most model-resolution tiles one "analyse view" may cover (keeps runs bounded). */
const MAX_TILES = 2048;

export type AnalysisState = 'idle' | 'running' | 'done' | 'cancelled' | 'error';

export interface AnalysisSummary {
  backend: string;
  samples: number;
  hasDropout: boolean;
  tiles: number;
  analyzedTiles: number;
  seconds: number;
  suggestions: PatchSuggestion[];
}

/**
 * Runs the uncertainty engine over what a slide panel shows and draws the
 * result: a heatmap layer, boxes of the suggested patches, and a ranked list
 * that moves the view to a patch when clicked.
 */
export class AnalysisController {
  constructor(panel: SlidePanel, service: EngineService) {
    this._panel = panel;
    this._service = service;

    this._progress = document.createElement('div');
    this._progress.className = 'jp-uga-Analysis-progress';
    this._progress.setAttribute('role', 'progressbar');
    this._progress.setAttribute('aria-valuemin', '0');
    this._progress.setAttribute('aria-valuemax', '100');
    this._progressText = document.createElement('span');
    this._progressBar = document.createElement('div');
    this._progressBar.className = 'jp-uga-Analysis-bar';
    const cancel = document.createElement('button');
    cancel.className = 'jp-mod-styled jp-mod-reject jp-uga-Analysis-cancel';
    cancel.textContent = 'Cancel';
    cancel.addEventListener('click', () => this.cancel());
    const track = document.createElement('div');
    track.className = 'jp-uga-Analysis-track';
    track.appendChild(this._progressBar);
    this._progress.append(this._progressText, track, cancel);
    this._progress.style.display = 'none';

    this._list = document.createElement('div');
    this._list.className = 'jp-uga-PatchList';
    this._list.style.display = 'none';
    panel.node.querySelector('.jp-uga-SlidePanel-viewer')!.append(this._progress, this._list);
  }

  get state(): AnalysisState {
    return this._state;
  }
  get stateChanged(): ISignal<this, AnalysisState> {
    return this._stateChanged;
  }
  get summary(): AnalysisSummary | null {
    return this._summary;
  }
  get result(): RegionResult | null {
    return this._result;
  }

  /** Analyse the level-0 rectangle on screen (default) or a given one. */
  async analyze(
    rect?: { x: number; y: number; width: number; height: number },
    overrides: Partial<ISlideSettings> = {}
  ): Promise<void> {
    const panel = this._panel;
    const viewer = panel.viewer;
    const source = panel.source;
    if (!viewer || !source || this._state === 'running') {
      return;
    }
    const settings = { ...panel.settings };
    for (const [key, value] of Object.entries(overrides)) {
      if (value !== undefined) {
        (settings as Record<string, unknown>)[key] = value;
      }
    }
    const region = rect ?? viewer.visibleRect();
    if (region.width < 1 || region.height < 1) {
      this._setMessage('Nothing of the slide is in view.', 'warning');
      return;
    }
    this.clear();
    this._abort = new AbortController();
    const signal = this._abort.signal;
    this._setState('running');
    this._showProgress(0, 'Preparing…');
    const started = performance.now();
    let engine: { dispose(): void } | null = null;
    try {
      const modelUrl = settings.modelPath ? panel.fileUrl(settings.modelPath) : '';
      const handle = await this._service.acquire(
        {
          backend: settings.backend,
          modelUrl,
          // Workspace models come through the authenticated server; the default one is a static file.
          fetchFunc: modelUrl ? panel.serverFetch : undefined,
          samples: settings.mcSamples
        },
        text => this._showProgress(0, text)
      );
      engine = handle.engine;
      signal.throwIfAborted();
      const meta = handle.model.metadata;
      const engineModule = await import('../engine');
      const scale = engineModule.modelScale(meta.mpp, source.info.mppX);
      const patch = handle.model.inputShape[0];
      const tiles = Math.ceil(region.width / scale / patch) * Math.ceil(region.height / scale / patch);
      if (tiles > MAX_TILES) {
        throw new UserError(
          `The view holds about ${tiles} patches at the model's ${meta.mpp ?? '?'} µm/px; zoom in to at most ${MAX_TILES} and analyse again.`
        );
      }
      this._heatLayer = viewer.addOverlayLayer('uga-heatmap');
      this._heatLayer.listening(false);
      this._heatLayer.opacity(settings.heatmapOpacity);
      const mapW = Math.max(1, Math.round(region.width / scale));
      const mapH = Math.max(1, Math.round(region.height / scale));
      const canvas = document.createElement('canvas');
      canvas.width = mapW;
      canvas.height = mapH;
      const image = new Konva.Image({
        image: canvas,
        x: region.x,
        y: region.y,
        width: region.width,
        height: region.height,
        listening: false
      });
      this._heatLayer.add(image);
      const which = settings.heatmap;
      const result = await engineModule.analyzeRegion(source, region, handle.engine, {
        signal,
        onProgress: p =>
          this._showProgress(
            p.total ? p.done / p.total : 0,
            `Analysing ${p.done}/${p.total} tiles on ${handle.backend} (T = ${handle.engine.samples})`
          ),
        onTile: (tile: RegionTileResult) => {
          drawMaps(canvas, tile.maps, which, tile.mapRect.x, tile.mapRect.y);
          this._heatLayer?.batchDraw();
        }
      });
      // Show and rank only analysed tissue, not the glass around it.
      const onTissue = new Uint8Array(result.covered.length);
      for (let i = 0; i < onTissue.length; i++) {
        onTissue[i] = result.covered[i] & result.tissue[i];
      }
      canvas.width = result.maps.width;
      canvas.height = result.maps.height;
      drawMaps(canvas, result.maps, which, 0, 0, onTissue);
      this._heatLayer.batchDraw();
      this._result = result;
      const { rankPatches } = await import('../uncertainty');
      const suggestions = rankPatches(result.maps, {
        strategy: settings.scoreStrategy as ScoreStrategy,
        patchSize: patch,
        count: settings.suggestions,
        origin: { x: region.x, y: region.y },
        scale: result.scale,
        foregroundClass: meta.foregroundClass,
        covered: onTissue,
        idPrefix: PathExt.basename(panel.path).replace(/[^A-Za-z0-9_.-]/g, '_') + '-'
      });
      this._summary = {
        backend: handle.backend,
        samples: handle.engine.samples,
        hasDropout: handle.model.hasDropout,
        tiles: result.tiles.length,
        analyzedTiles: result.tiles.filter(t => t.analyzed).length,
        seconds: (performance.now() - started) / 1000,
        suggestions
      };
      this._drawSuggestions(suggestions);
      this._hideProgress();
      this._setMessage(
        handle.model.hasDropout
          ? ''
          : 'This model has no Dropout layer: the heatmap is the entropy of a single pass, not MC-dropout uncertainty.',
        'info'
      );
      this._setState('done');
    } catch (e) {
      this._hideProgress();
      if (signal.aborted || (e instanceof Error && e.name === 'AbortError')) {
        this._setMessage('Analysis cancelled.', 'info');
        this._clearLayers();
        this._setState('cancelled');
      } else {
        const msg = e instanceof Error ? e.message : String(e);
        this._setMessage(`Uncertainty analysis failed: ${msg}`, 'error');
        this._clearLayers();
        this._setState('error');
      }
    } finally {
      engine?.dispose();
    }
  }

  cancel(): void {
    this._abort?.abort();
  }

  /** Remove heatmap, boxes and list. */
  clear(): void {
    this._clearLayers();
    this._list.replaceChildren();
    this._list.style.display = 'none';
    this._summary = null;
    this._result = null;
    this._setMessage('', 'info');
  }

  dispose(): void {
    this.cancel();
    this.clear();
    this._progress.remove();
    this._list.remove();
    Signal.clearData(this);
  }

  private _clearLayers(): void {
    const viewer = this._panel.viewer;
    for (const layer of [this._heatLayer, this._boxLayer]) {
      if (layer && viewer) {
        viewer.removeOverlayLayer(layer);
      }
    }
    this._heatLayer = null;
    this._boxLayer = null;
  }

  private _drawSuggestions(suggestions: PatchSuggestion[]): void {
    const viewer = this._panel.viewer!;
    this._boxLayer = viewer.addOverlayLayer('uga-patches');
    const css = getComputedStyle(this._panel.node);
    const color = css.getPropertyValue('--jp-brand-color1').trim() || '#1976d2';
    const boxes = new Map<string, Konva.Rect>();
    for (const s of suggestions) {
      const rect = new Konva.Rect({
        x: s.x,
        y: s.y,
        width: s.width,
        height: s.height,
        stroke: color,
        strokeWidth: 2,
        strokeScaleEnabled: false,
        name: s.id
      });
      const label = new Konva.Text({
        x: s.x + 4,
        y: s.y + 4,
        text: String(s.rank),
        fontSize: Math.max(12, s.height / 8),
        fill: color,
        fontStyle: 'bold'
      });
      boxes.set(s.id, rect);
      this._boxLayer.add(rect, label);
    }
    this._boxLayer.batchDraw();

    const header = document.createElement('div');
    header.className = 'jp-uga-PatchList-header';
    const sum = this._summary!;
    header.textContent = `${suggestions.length} patches to correct · ${sum.backend}, T = ${sum.samples}, ${sum.seconds.toFixed(1)} s`;
    const list = document.createElement('ol');
    list.className = 'jp-uga-PatchList-items';
    for (const s of suggestions) {
      const item = document.createElement('li');
      item.tabIndex = 0;
      item.dataset.patchId = s.id;
      item.className = 'jp-uga-PatchList-item';
      item.textContent = `score ${s.score.toFixed(3)} · entropy ${s.meanEntropy.toFixed(2)} · MI ${s.meanMutualInformation.toFixed(3)} · (${Math.round(s.x)}, ${Math.round(s.y)})`;
      const go = () => {
        viewer.showRect(s.x, s.y, s.width, s.height);
        for (const [id, r] of boxes) {
          r.strokeWidth(id === s.id ? 4 : 2);
        }
        this._boxLayer?.batchDraw();
        list.querySelectorAll('.jp-mod-selected').forEach(n => n.classList.remove('jp-mod-selected'));
        item.classList.add('jp-mod-selected');
      };
      item.addEventListener('click', go);
      item.addEventListener('keydown', ev => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          go();
        }
      });
      list.appendChild(item);
    }
    this._list.replaceChildren(header, list);
    this._list.style.display = suggestions.length ? '' : 'none';
  }

  private _showProgress(fraction: number, text: string): void {
    this._progress.style.display = '';
    this._progressText.textContent = text;
    const pct = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
    this._progressBar.style.width = `${pct}%`;
    this._progress.setAttribute('aria-valuenow', String(pct));
  }

  private _hideProgress(): void {
    this._progress.style.display = 'none';
  }

  private _setMessage(text: string, kind: 'info' | 'warning' | 'error'): void {
    this._panel.showMessage(text, kind);
  }

  private _setState(state: AnalysisState): void {
    this._state = state;
    this._panel.node.dataset.ugaAnalysis = state;
    this._stateChanged.emit(state);
  }

  private _panel: SlidePanel;
  private _service: EngineService;
  private _progress: HTMLDivElement;
  private _progressText: HTMLSpanElement;
  private _progressBar: HTMLDivElement;
  private _list: HTMLDivElement;
  private _heatLayer: Konva.Layer | null = null;
  private _boxLayer: Konva.Layer | null = null;
  private _abort: AbortController | null = null;
  private _state: AnalysisState = 'idle';
  private _summary: AnalysisSummary | null = null;
  private _result: RegionResult | null = null;
  private _stateChanged = new Signal<this, AnalysisState>(this);
}

/** A message meant for the user as is. */
class UserError extends Error {}

function drawMaps(
  canvas: HTMLCanvasElement,
  maps: UncertaintyMaps,
  which: 'entropy' | 'mutual_information',
  x: number,
  y: number,
  covered?: Uint8Array
): void {
  const values = which === 'entropy' ? maps.entropy : maps.mutualInformation;
  // MI is much smaller than entropy: stretch it so the map is readable.
  const ceiling = which === 'entropy' ? 1 : Math.max(0.05, maxOf(values));
  const rgba = heatmapRGBA(values, maps.width, maps.height, { covered, ceiling, floor: ceiling * 0.05 });
  const ctx = canvas.getContext('2d');
  ctx?.putImageData(new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, maps.width, maps.height), x, y);
}

function maxOf(values: Float32Array): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > m) {
      m = values[i];
    }
  }
  return m;
}
