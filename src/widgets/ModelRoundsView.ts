import { Widget } from '@lumino/widgets';
import { PathExt } from '@jupyterlab/coreutils';
import type { CommandRegistry } from '@lumino/commands';
import { CommandIDs } from '../tokens';
import type { ISlideSession } from '../tokens';
import type { ModelRound, ModelRounds } from '../session/ModelRounds';

function fmt(d: number | null | undefined): string {
  return d === null || d === undefined ? '–' : d.toFixed(3);
}

/**
 * Below the queue: the active model, the offer to switch when a new version
 * appears in the folder, and Dice per round against the ground truth. The
 * root carries data-uga-model; the offer data-uga-offer="<version>"; each
 * round row data-uga-round="<i>", data-uga-model and data-uga-mean.
 */
export class ModelRoundsView extends Widget {
  constructor(session: ISlideSession, rounds: ModelRounds, commands: CommandRegistry) {
    super();
    this._session = session;
    this._rounds = rounds;
    this._commands = commands;
    this.addClass('jp-uga-ModelRounds');
    this._model = document.createElement('div');
    this._model.className = 'jp-uga-ModelRounds-model';
    this._offer = document.createElement('div');
    this._offer.className = 'jp-uga-ModelRounds-offer';
    this._offer.setAttribute('role', 'status');
    this._dice = document.createElement('div');
    this._dice.className = 'jp-uga-ModelRounds-dice';
    this.node.append(this._model, this._offer, this._dice);
    rounds.changed.connect(this._render, this);
    session.analysis.resultChanged.connect(this._render, this);
    session.settingsChanged.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    const result = this._session.analysis.result;
    const meta = result?.model.metadata;
    const path = this._session.settings.modelPath;
    const label = meta ? `${meta.name}@${meta.version}` : '';
    if (label) {
      this.node.dataset.ugaModel = label;
    }
    const active = this._rounds.activeVersion;
    this._model.textContent = `Model: ${label || (path ? PathExt.basename(PathExt.dirname(path)) : 'default')}${active ? ` (models/${active})` : path ? '' : ' (shipped)'}`;
    this._model.title = path || 'The default model shipped with the extension';

    const offer = this._rounds.offer;
    this._offer.replaceChildren();
    if (offer) {
      this._offer.dataset.ugaOffer = offer.version;
      const text = document.createElement('span');
      text.textContent = `New model version ${offer.version} in ${PathExt.basename(this._rounds.folder)}/models.`;
      const yes = this._button(
        'Switch and re-analyse',
        () => void this._commands.execute(CommandIDs.switchModel, { version: offer.version })
      );
      yes.classList.add('jp-mod-accept');
      const no = this._button('Dismiss', () => this._rounds.dismissOffer());
      this._offer.append(text, yes, no);
      this._offer.style.display = '';
    } else {
      delete this._offer.dataset.ugaOffer;
      this._offer.style.display = 'none';
    }

    this._dice.replaceChildren();
    const truth = this._rounds.truth;
    const rounds = this._rounds.rounds;
    if (!truth && !rounds.length) {
      const note = document.createElement('div');
      note.className = 'jp-uga-ModelRounds-note';
      note.textContent = this._rounds.truthNote || 'Ground truth: looking…';
      const choose = this._button('Choose…', () => void this._commands.execute(CommandIDs.chooseGroundTruth, {}));
      this._dice.append(note, choose);
      return;
    }
    const title = document.createElement('div');
    title.className = 'jp-uga-ModelRounds-title';
    title.textContent = `Dice vs ${truth ? PathExt.basename(truth.path) : 'ground truth'} (analysed region)`;
    this._dice.appendChild(title);
    if (!rounds.length) {
      const note = document.createElement('div');
      note.className = 'jp-uga-ModelRounds-note';
      note.textContent = this._rounds.truthNote || 'Analyse to measure the model on this slide.';
      this._dice.appendChild(note);
      return;
    }
    this._dice.appendChild(this._table(rounds));
  }

  private _table(rounds: readonly ModelRound[]): HTMLTableElement {
    const table = document.createElement('table');
    table.className = 'jp-uga-ModelRounds-table';
    const names = rounds[rounds.length - 1].classNames;
    const head = table.createTHead().insertRow();
    for (const h of ['version', ...names, 'mean', 'Δ']) {
      const th = document.createElement('th');
      th.textContent = h;
      head.appendChild(th);
    }
    const body = table.createTBody();
    rounds.forEach((r, i) => {
      const row = body.insertRow();
      row.dataset.ugaRound = String(i);
      row.dataset.ugaModel = r.model;
      row.dataset.ugaMean = r.dice.mean === null ? '' : r.dice.mean.toFixed(4);
      const prev = rounds
        .slice(0, i)
        .reverse()
        .find(
          p =>
            p.region.x === r.region.x &&
            p.region.y === r.region.y &&
            p.region.width === r.region.width &&
            p.region.height === r.region.height
        );
      const delta = prev && prev.dice.mean !== null && r.dice.mean !== null ? r.dice.mean - prev.dice.mean : null;
      // The version is what changes between rounds; the full name@version is the row's title.
      const version = r.model.slice(r.model.lastIndexOf('@') + 1);
      const cells = [
        version + (r.partial ? ' (partial)' : ''),
        ...r.dice.perClass.map(fmt),
        fmt(r.dice.mean),
        delta === null ? '' : (delta >= 0 ? '+' : '') + delta.toFixed(3)
      ];
      for (const c of cells) {
        row.insertCell().textContent = c;
      }
      if (delta !== null) {
        row.cells[row.cells.length - 1].dataset.sign = delta > 0.0005 ? 'up' : delta < -0.0005 ? 'down' : 'same';
      }
      row.title = `${r.model}: ${r.dice.pixels.toLocaleString()} pixels at the analysis resolution; region x ${r.region.x}, y ${r.region.y}, ${r.region.width} × ${r.region.height}`;
    });
    return table;
  }

  private _button(label: string, onClick: () => void): HTMLButtonElement {
    const b = document.createElement('button');
    b.className = 'jp-mod-styled jp-uga-ModelRounds-button';
    b.textContent = label;
    b.addEventListener('click', onClick);
    return b;
  }

  private _session: ISlideSession;
  private _rounds: ModelRounds;
  private _commands: CommandRegistry;
  private _model: HTMLDivElement;
  private _offer: HTMLDivElement;
  private _dice: HTMLDivElement;
}
