import type { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import { MEASURE_MEANING, rampColor } from '../analysis/heatmap';
import type { AnalysisOverlays } from './AnalysisOverlays';
import type { ISlideSession, ISlideSettings } from '../tokens';

export type SettingWriter = <K extends keyof ISlideSettings>(key: K, value: ISlideSettings[K]) => void;

const MEASURE_LABEL: Record<ISlideSettings['heatmap'], string> = {
  entropy: 'Entropy',
  mutual_information: 'Mutual information',
  std: 'Std (foreground)'
};

/**
 * A small control over the view, shown once a result exists: each overlay's
 * toggle and opacity, the heatmap measure, and the legend (colour ramp,
 * value scale, what the measure means; a warning when it is near zero).
 * Changes go to the settings, so they persist and reach other panels.
 */
export class LayerControl implements IDisposable {
  constructor(host: HTMLElement, session: ISlideSession, overlays: AnalysisOverlays, write: SettingWriter) {
    this._session = session;
    this._overlays = overlays;
    this._write = write;
    this.node = document.createElement('div');
    this.node.className = 'jp-uga-LayerControl';
    this.node.setAttribute('role', 'group');
    this.node.setAttribute('aria-label', 'Analysis layers');
    this.node.style.display = 'none';
    host.appendChild(this.node);
    session.analysis.resultChanged.connect(this._render, this);
    session.settingsChanged.connect(this._render, this);
  }

  readonly node: HTMLDivElement;

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (!this._disposed) {
      this._disposed = true;
      this.node.remove();
      Signal.disconnectReceiver(this);
    }
  }

  private _render(): void {
    const result = this._session.analysis.result;
    this.node.style.display = result ? '' : 'none';
    if (!result) {
      return;
    }
    const s = this._session.settings;
    this.node.replaceChildren(
      this._row(
        'heatmap',
        'Heatmap',
        s.showHeatmap,
        'showHeatmap',
        'heatmapOpacity',
        s.heatmapOpacity,
        this._select('heatmap', s.heatmap, Object.entries(MEASURE_LABEL))
      ),
      this._row(
        'mask',
        'Prediction',
        s.showMask,
        'showMask',
        'maskOpacity',
        s.maskOpacity,
        this._select('maskStyle', s.maskStyle, [
          ['outline', 'Outline'],
          ['fill', 'Fill']
        ])
      ),
      this._row('boxes', 'Patches', s.showBoxes, 'showBoxes'),
      this._legend()
    );
  }

  private _row(
    layer: string,
    label: string,
    on: boolean,
    toggle: 'showHeatmap' | 'showMask' | 'showBoxes',
    opacityKey?: 'heatmapOpacity' | 'maskOpacity',
    opacity?: number,
    extra?: HTMLElement
  ): HTMLElement {
    const row = document.createElement('div');
    row.className = 'jp-uga-LayerControl-row';
    row.dataset.ugaLayer = layer;
    const name = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = on;
    box.addEventListener('change', () => this._write(toggle, box.checked));
    name.append(box, ` ${label}`);
    row.appendChild(name);
    if (extra) {
      row.appendChild(extra);
    }
    if (opacityKey) {
      const range = document.createElement('input');
      range.type = 'range';
      range.min = '0';
      range.max = '1';
      range.step = '0.05';
      range.value = String(opacity ?? 1);
      range.title = `${label} opacity`;
      range.setAttribute('aria-label', `${label} opacity`);
      range.addEventListener('change', () => this._write(opacityKey, Number(range.value)));
      row.appendChild(range);
    }
    return row;
  }

  private _select<K extends 'heatmap' | 'maskStyle'>(key: K, value: string, options: [string, string][]): HTMLSelectElement {
    const select = document.createElement('select');
    select.className = 'jp-mod-styled';
    for (const [v, text] of options) {
      const o = document.createElement('option');
      o.value = v;
      o.textContent = text;
      o.selected = v === value;
      select.appendChild(o);
    }
    select.addEventListener('change', () => this._write(key, select.value as ISlideSettings[K]));
    return select;
  }

  private _legend(): HTMLElement {
    const s = this._session.settings;
    const scale = this._overlays.scale;
    const legend = document.createElement('div');
    legend.className = 'jp-uga-Legend';
    const ramp = document.createElement('canvas');
    ramp.className = 'jp-uga-Legend-ramp';
    ramp.width = 128;
    ramp.height = 10;
    const ctx = ramp.getContext('2d');
    if (ctx) {
      for (let x = 0; x < ramp.width; x++) {
        const [r, g, b] = rampColor(x / (ramp.width - 1));
        ctx.fillStyle = `rgb(${r},${g},${b})`;
        ctx.fillRect(x, 0, 1, ramp.height);
      }
    }
    const ticks = document.createElement('div');
    ticks.className = 'jp-uga-Legend-ticks';
    const top = scale?.ceiling ?? 1;
    for (const v of [0, top / 2, top]) {
      const t = document.createElement('span');
      t.textContent = formatValue(v);
      ticks.appendChild(t);
    }
    const meaning = document.createElement('div');
    meaning.className = 'jp-uga-Legend-meaning';
    meaning.textContent = MEASURE_MEANING[s.heatmap] + ' Transparent below ' + formatValue(scale?.floor ?? 0.05) + '.';
    legend.append(ramp, ticks, meaning);
    if (scale?.nearZero) {
      const warn = document.createElement('div');
      warn.className = 'jp-uga-Legend-warning';
      warn.setAttribute('role', 'note');
      warn.textContent =
        `${MEASURE_LABEL[s.heatmap]} is near zero everywhere (max ${formatValue(scale.max)}): the MC samples barely differ ` +
        '(e.g. Dropout only late in the network), so this map carries little signal. Prefer entropy.';
      legend.appendChild(warn);
    }
    return legend;
  }

  private _session: ISlideSession;
  private _overlays: AnalysisOverlays;
  private _write: SettingWriter;
  private _disposed = false;
}

function formatValue(v: number): string {
  return v >= 0.1 || v === 0 ? v.toFixed(2) : v.toPrecision(2);
}
