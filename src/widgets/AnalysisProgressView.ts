import type { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import type { AnalysisProgress, IAnalysisModel } from '../tokens';

/** Progress of a running analysis over the view, with Cancel (a native <progress>). */
export class AnalysisProgressView implements IDisposable {
  constructor(host: HTMLElement, analysis: IAnalysisModel) {
    this.node = document.createElement('div');
    this.node.className = 'jp-uga-Analysis-progress';
    this._text = document.createElement('span');
    this._text.className = 'jp-uga-Analysis-text';
    this._bar = document.createElement('progress');
    this._bar.className = 'jp-uga-Analysis-bar';
    this._bar.max = 1;
    const cancel = document.createElement('button');
    cancel.className = 'jp-mod-styled jp-mod-reject jp-uga-Analysis-cancel';
    cancel.textContent = 'Cancel';
    cancel.addEventListener('click', () => analysis.cancel());
    this.node.append(this._text, this._bar, cancel);
    this.node.style.display = 'none';
    host.appendChild(this.node);
    analysis.progressChanged.connect(this._onProgress, this);
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

  private _onProgress(_: IAnalysisModel, p: AnalysisProgress | null): void {
    this.node.style.display = p ? '' : 'none';
    if (!p) {
      return;
    }
    this._text.textContent = p.text;
    if (p.fraction === null) {
      this._bar.removeAttribute('value'); // indeterminate
    } else {
      this._bar.value = Math.min(1, Math.max(0, p.fraction));
    }
  }

  private _text: HTMLSpanElement;
  private _bar: HTMLProgressElement;
  private _disposed = false;
}
