import { Widget } from '@lumino/widgets';
import type { CommandRegistry } from '@lumino/commands';
import { drawThumbnail } from '../editor/correction';
import { correctionFor } from '../session/patches';
import { CommandIDs } from '../tokens';
import { nextTask } from './nextTask';
import type { ISlideSession, ReviewItem } from '../tokens';

const THUMB = 72;

/**
 * The ranked patches to review, beside the viewer: thumbnail (the slide
 * patch with the mask outline), rank, score and state. Click or Enter flies
 * the viewer to a patch; double-click opens it in the correction editor.
 * Each row carries data-uga-suggestion="<rank>" and data-uga-state.
 */
export class SuggestionQueue extends Widget {
  constructor(session: ISlideSession, commands: CommandRegistry) {
    super();
    this._session = session;
    this._commands = commands;
    this.addClass('jp-uga-SuggestionQueue');
    this.node.tabIndex = -1;
    this._header = document.createElement('div');
    this._header.className = 'jp-uga-SuggestionQueue-header';
    this._title = document.createElement('div');
    this._title.className = 'jp-uga-SuggestionQueue-title';
    this._detail = document.createElement('div');
    this._detail.className = 'jp-uga-SuggestionQueue-detail';
    this._actions = document.createElement('div');
    this._actions.className = 'jp-uga-SuggestionQueue-actions';
    this._header.append(this._title, this._detail, this._actions);
    this._list = document.createElement('ol');
    this._list.className = 'jp-uga-SuggestionQueue-list';
    this._list.setAttribute('aria-label', 'Patches to review');
    this._empty = document.createElement('div');
    this._empty.className = 'jp-uga-SuggestionQueue-empty';
    this._empty.textContent = 'Analyse the view to get the patches where the model is least sure.';
    this.node.append(this._header, this._list, this._empty);
    for (const [id, label] of [
      [CommandIDs.previousSuggestion, '‹'],
      [CommandIDs.nextSuggestion, '›'],
      [CommandIDs.correctSuggestion, 'Correct'],
      [CommandIDs.skipSuggestion, 'Skip'],
      [CommandIDs.fineTune, 'Fine-tune'],
      [CommandIDs.cancelFineTune, 'Cancel fine-tuning']
    ]) {
      const b = document.createElement('button');
      b.className = 'jp-mod-styled jp-uga-SuggestionQueue-button';
      b.textContent = label;
      b.title = commands.label(id) || label;
      b.dataset.command = id;
      b.addEventListener('click', () => void commands.execute(id, {}));
      this._actions.appendChild(b);
    }
    session.review.changed.connect(this._onChanged, this);
    session.review.currentChanged.connect(this._onCurrent, this);
    session.analysis.resultChanged.connect(() => {
      this._thumbs.clear();
      this._renderHeader();
    }, this);
    session.analysis.stateChanged.connect(() => this._renderHeader(), this);
    commands.commandChanged.connect(() => this._updateButtons(), this);
    // Save states of the workspace (saving… / unsaved + Retry) show on the rows.
    const watch = () => session.corrections?.changed.connect(this._onStore, this);
    session.correctionsChanged.connect(watch, this);
    watch();
    this._renderHeader();
    this._onChanged(session.review, []);
  }

  /** Add an element to the header's actions (e.g. the fine-tune button). */
  addAction(node: HTMLElement): void {
    this._actions.appendChild(node);
  }

  dispose(): void {
    this._abort.abort();
    super.dispose();
  }

  private _renderHeader(): void {
    const a = this._session.analysis;
    const result = a.result;
    const items = this._session.review.items;
    if (a.state === 'running') {
      this._title.textContent = 'Analysing…';
    } else if (result) {
      const n = items.length;
      const done = items.filter(i => i.status !== 'suggested').length;
      this._title.textContent = `${n} ${n === 1 ? 'patch' : 'patches'}` + (done ? ` · ${done} reviewed` : '');
    } else if (items.length) {
      const done = items.filter(i => i.status !== 'suggested').length;
      this._title.textContent =
        `${items.length} ${items.length === 1 ? 'patch' : 'patches'} from the workspace` + (done ? ` · ${done} reviewed` : '');
    } else {
      this._title.textContent = 'Suggestions';
    }
    if (result) {
      const s = result.summary;
      const meta = result.model.metadata;
      this._detail.textContent =
        `${meta.name}@${meta.version} · ${s.backend}, T = ${s.samples}, ${s.seconds.toFixed(1)} s` + (s.partial ? ' · partial run' : '');
      this._detail.title = s.backendReason;
    } else {
      this._detail.textContent = '';
    }
    this._updateButtons();
  }

  private _updateButtons(): void {
    for (const b of Array.from(this._actions.querySelectorAll<HTMLButtonElement>('button[data-command]'))) {
      b.disabled = !this._commands.isEnabled(b.dataset.command!, {});
      // Cancel shows only while there is something to cancel.
      if (b.dataset.command === CommandIDs.cancelFineTune) {
        b.hidden = b.disabled;
      }
    }
  }

  private _onChanged(_: unknown, ranks: number[]): void {
    const items = this._session.review.items;
    this._empty.style.display = items.length ? 'none' : '';
    if (ranks.length === 0) {
      this._list.replaceChildren(...items.map(i => this._row(i)));
    } else {
      for (const r of ranks) {
        const old = this._list.querySelector(`[data-uga-suggestion="${r}"]`);
        const item = this._session.review.item(r);
        if (old && item) {
          this._thumbs.delete(r);
          old.replaceWith(this._row(item));
        }
      }
    }
    this._onCurrent();
    this._renderHeader();
  }

  private _onStore(_: unknown, change: { ids: string[] }): void {
    const items = this._session.review.items;
    const ranks =
      change.ids.length === 0
        ? items.map(i => i.suggestion.rank)
        : items.filter(i => change.ids.includes(i.suggestion.id)).map(i => i.suggestion.rank);
    for (const r of ranks) {
      const old = this._list.querySelector(`[data-uga-suggestion="${r}"]`);
      const item = this._session.review.item(r);
      if (old && item) {
        const row = this._row(item);
        row.classList.toggle('jp-mod-selected', this._session.review.current === r);
        old.replaceWith(row);
      }
    }
    this._updateButtons();
  }

  private _onCurrent(): void {
    const cur = this._session.review.current;
    for (const li of Array.from(this._list.children) as HTMLElement[]) {
      const on = Number(li.dataset.ugaSuggestion) === cur;
      li.classList.toggle('jp-mod-selected', on);
      li.setAttribute('aria-selected', String(on));
    }
    this._updateButtons();
  }

  private _row(item: ReviewItem): HTMLLIElement {
    const s = item.suggestion;
    const li = document.createElement('li');
    li.className = 'jp-uga-SuggestionQueue-item';
    li.tabIndex = 0;
    li.dataset.ugaSuggestion = String(s.rank);
    li.dataset.ugaState = item.status;
    li.setAttribute('role', 'option');
    const thumb = document.createElement('canvas');
    thumb.className = 'jp-uga-SuggestionQueue-thumb';
    thumb.width = THUMB;
    thumb.height = THUMB;
    const text = document.createElement('div');
    text.className = 'jp-uga-SuggestionQueue-text';
    const line1 = document.createElement('div');
    line1.className = 'jp-uga-SuggestionQueue-rank';
    line1.textContent = `#${s.rank}`;
    const state = document.createElement('span');
    state.className = 'jp-uga-SuggestionQueue-state';
    state.textContent = item.status;
    line1.append(' ', state);
    const line2 = document.createElement('div');
    line2.className = 'jp-uga-SuggestionQueue-score';
    line2.textContent = `score ${formatScore(s.score)} · ${(s.foregroundFraction * 100).toFixed(0)}% fg${s.partial ? ' · at edge' : ''}`;
    line2.title = `entropy ${s.meanEntropy.toFixed(3)}, mutual information ${s.meanMutualInformation.toFixed(4)}, at (${Math.round(s.x)}, ${Math.round(s.y)})`;
    text.append(line1, line2);
    li.append(thumb, text);
    const save = this._session.corrections?.saveState(s.id);
    if (save && save !== 'saved') {
      li.dataset.ugaSave = save;
      const badge = document.createElement('span');
      badge.className = 'jp-uga-SuggestionQueue-save';
      badge.textContent = save === 'unsaved' ? 'unsaved' : 'saving…';
      badge.title = this._session.corrections?.saveError(s.id) ?? '';
      line1.append(' ', badge);
      if (save === 'unsaved') {
        const retry = document.createElement('button');
        retry.className = 'jp-mod-styled jp-uga-SuggestionQueue-retry';
        retry.textContent = 'Retry';
        retry.title = badge.title;
        retry.addEventListener('click', ev => {
          ev.stopPropagation();
          void this._commands.execute(CommandIDs.retrySave, {});
        });
        line1.append(' ', retry);
      }
    }
    li.addEventListener('click', () => this._go(s.rank));
    li.addEventListener('dblclick', () => void this._commands.execute(CommandIDs.correctSuggestion, { rank: s.rank }));
    li.addEventListener('keydown', ev => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        this._go(s.rank);
      } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        ev.preventDefault();
        const next = (ev.key === 'ArrowDown' ? li.nextElementSibling : li.previousElementSibling) as HTMLElement | null;
        next?.focus();
        if (next) {
          this._go(Number(next.dataset.ugaSuggestion));
        }
      }
    });
    void this._drawThumb(thumb, item);
    return li;
  }

  private _go(rank: number): void {
    const item = this._session.review.item(rank);
    if (!item) {
      return;
    }
    this._session.review.setCurrent(rank);
    const s = item.suggestion;
    this._session.viewer?.showRect(s.x, s.y, s.width, s.height);
  }

  private async _drawThumb(canvas: HTMLCanvasElement, item: ReviewItem): Promise<void> {
    const result = this._session.analysis.result;
    const source = this._session.source;
    if (item.correction) {
      drawThumbnail(canvas, item.correction);
      canvas.dataset.ugaThumb = 'ready';
      return;
    }
    if (!result || !source) {
      return;
    }
    try {
      const s = item.suggestion;
      let c = this._thumbs.get(s.rank);
      if (!c) {
        // One thumbnail per task (read, resample, draw): all at once are one long main-thread task.
        const signal = this._abort.signal;
        c = this._thumbChain.then(async () => {
          await nextTask();
          signal.throwIfAborted();
          return correctionFor(source, result.region, s, result.model.metadata.classes, item.status, signal);
        });
        this._thumbChain = c.then(
          () => undefined,
          () => undefined
        );
        this._thumbs.set(s.rank, c);
      }
      const base = await c;
      drawThumbnail(canvas, base);
      canvas.dataset.ugaThumb = 'ready';
    } catch (e) {
      if (!this._abort.signal.aborted) {
        canvas.dataset.ugaThumb = 'error';
        canvas.title = `No thumbnail: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
  }

  private _session: ISlideSession;
  private _commands: CommandRegistry;
  private _header: HTMLDivElement;
  private _title: HTMLDivElement;
  private _detail: HTMLDivElement;
  private _actions: HTMLDivElement;
  private _list: HTMLOListElement;
  private _empty: HTMLDivElement;
  private _thumbs = new Map<number, ReturnType<typeof correctionFor>>();
  private _thumbChain: Promise<void> = Promise.resolve();
  private _abort = new AbortController();
}

function formatScore(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3);
}
