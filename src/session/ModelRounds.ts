/**
 * The loop back, per open slide: which model is active, new model versions
 * appearing in `<slide>.uga/models/` (written by the notebook's finetune /
 * export_tfjs, or by another tab) offered for a switch, and Dice against the
 * slide's ground truth for each analysis, so each round shows whether it
 * helped. No DOM: ModelRoundsView shows it.
 */
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { PathExt } from '@jupyterlab/coreutils';
import type { Contents } from '@jupyterlab/services';
import type { AnalysisResult, IEngineService, ISlideSession } from '../tokens';
import type { TileRect } from '../uncertainty/tiling';
import type { DiceSummary } from '../training/dice';
import { diceRecord } from '../training/dice';
import { resultLabels } from './patches';
import { diceOfResult, GroundTruth, groundTruthCandidates, readGroundTruth } from './groundTruth';

/** One analysis measured against the ground truth. */
export interface ModelRound {
  /** name@version of the model, as its metadata says. */
  model: string;
  /** The modelPath setting the run used ('' = the default model). */
  modelPath: string;
  region: TileRect;
  dice: DiceSummary;
  classNames: string[];
  partial: boolean;
}

/** A model version in the folder that the panel offers to switch to. */
export interface ModelOffer {
  version: string;
  /** Server path of its model.json. */
  path: string;
}

const VERSION = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Numeric versions in numeric order, then the others by name. */
export function compareVersions(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) {
    return na - nb;
  }
  return Number.isFinite(na) ? -1 : Number.isFinite(nb) ? 1 : a.localeCompare(b);
}

/** The workspace version a model path points to (`<folder>/models/<v>/model.json`), or null. */
export function versionOfPath(folder: string, modelPath: string): string | null {
  const prefix = `${folder}/models/`;
  if (!modelPath.startsWith(prefix)) {
    return null;
  }
  const rest = modelPath.slice(prefix.length).split('/');
  return rest.length === 2 && rest[1] === 'model.json' && VERSION.test(rest[0]) ? rest[0] : null;
}

function sameRect(a: TileRect, b: TileRect): boolean {
  return a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The Dice record written to the manifest's models[] entry. */
export function roundRecord(round: ModelRound): Record<string, unknown> {
  return { model: round.model, ...diceRecord(round.dice, round.classNames), partial: round.partial };
}

export class ModelRounds implements IDisposable {
  constructor(options: ModelRounds.IOptions) {
    this._session = options.session;
    this._contents = options.contents;
    this._engines = options.engines;
    this.folder = options.folder;
    this._session.analysis.resultChanged.connect(this._onResult, this);
  }

  /** The slide's corrections folder (`<slide>.uga`). */
  readonly folder: string;

  get truth(): GroundTruth | null {
    return this._truth;
  }
  /** Why there is no ground truth (not found, unreadable), for the view. */
  get truthNote(): string {
    return this._truthNote;
  }
  get rounds(): readonly ModelRound[] {
    return this._rounds;
  }
  get offer(): ModelOffer | null {
    return this._offer;
  }
  get switching(): boolean {
    return this._switching;
  }
  /** Emitted when the truth, the rounds, the offer or the switching state change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The version the panel uses, when it is one of the folder's. */
  get activeVersion(): string | null {
    return versionOfPath(this.folder, this._session.settings.modelPath);
  }

  /** Look for a sibling mask, then watch the folder every `watchSeconds` (0 = only now). */
  async start(watchSeconds: number): Promise<void> {
    await this.findTruth();
    await this.checkVersions();
    if (watchSeconds > 0 && !this._disposed) {
      this._timer = setInterval(() => void this.checkVersions(), watchSeconds * 1000);
    }
  }

  /** The first of `<slide>.mask.png`, `.mask.tif`, `.mask.tiff` that exists. */
  async findTruth(): Promise<void> {
    for (const path of groundTruthCandidates(this._session.path)) {
      try {
        await this._contents.get(path, { content: false });
      } catch {
        continue;
      }
      await this.chooseTruth(path);
      return;
    }
    this._truthNote = `No ground truth: put a class-index mask at ${PathExt.basename(this._session.path)}.mask.png, or choose one (Slide → Choose Ground Truth).`;
    this._changed.emit();
  }

  /** Use the mask at `path` (PNG or TIFF, class index per pixel, any resolution covering the slide). */
  async chooseTruth(path: string): Promise<boolean> {
    try {
      const response = await this._session.serverFetch(this._session.fileUrl(path));
      if (!response.ok) {
        throw new Error(`the server answered ${response.status} ${response.statusText}`);
      }
      this._truthBytes = { path, bytes: await response.arrayBuffer() };
      this._truth = null;
      this._truthNote = '';
      const result = this._session.analysis.result;
      if (result) {
        // Measure what is on screen now.
        await this._measure(result);
      } else {
        this._changed.emit();
      }
      return true;
    } catch (e) {
      this._truthBytes = null;
      this._truth = null;
      this._truthNote = `Ground truth ${path}: ${messageOf(e)}`;
      this._changed.emit();
      return false;
    }
  }

  /** Poll `models/` once: a version not seen before (or rewritten) is offered. */
  async checkVersions(): Promise<void> {
    if (this._disposed || this._checking) {
      return;
    }
    this._checking = true;
    try {
      let listing: Contents.IModel;
      try {
        listing = await this._contents.get(`${this.folder}/models`, { content: true });
      } catch {
        return; // No models/ folder yet.
      }
      const dirs = ((listing.content ?? []) as Contents.IModel[]).filter(
        m => m.type === 'directory' && VERSION.test(m.name) && !m.name.includes('.tmp-')
      );
      const fresh: string[] = [];
      for (const dir of dirs) {
        let stamp: string;
        try {
          stamp = (await this._contents.get(`${dir.path}/model.json`, { content: false })).last_modified ?? '';
        } catch {
          continue; // Being written, or not a model: look again next time.
        }
        if (this._stamps.get(dir.name) !== stamp) {
          this._stamps.set(dir.name, stamp);
          if (!this._own.delete(dir.name)) {
            fresh.push(dir.name);
          }
        }
      }
      const active = this.activeVersion;
      const candidates = fresh.filter(v => v !== active).sort(compareVersions);
      if (this._disposed || candidates.length === 0) {
        return;
      }
      const newest = candidates[candidates.length - 1];
      if (!this._offer || compareVersions(newest, this._offer.version) >= 0) {
        this._offer = { version: newest, path: `${this.folder}/models/${newest}/model.json` };
        this._changed.emit();
      }
    } finally {
      this._checking = false;
    }
  }

  /** This panel made `version` itself (in-browser fine-tuning): no offer for it. */
  noteOwnVersion(version: string): void {
    // Its stamp is read at the next look and then counts as seen.
    this._own.add(version);
    if (this._offer?.version === version) {
      this._offer = null;
      this._changed.emit();
    }
  }

  dismissOffer(): void {
    if (this._offer) {
      this._offer = null;
      this._changed.emit();
    }
  }

  /**
   * Check that `version` loads as a segmentation model (on the panel's
   * backend), then switch the panel to it and re-analyse the last region. A
   * model that fails is refused with the reason, and the active one stays.
   */
  async switchTo(version: string): Promise<boolean> {
    const session = this._session;
    const path = `${this.folder}/models/${version}/model.json`;
    const previous = session.analysis.result?.model.metadata;
    const still = previous ? `${previous.name}@${previous.version}` : session.settings.modelPath || 'the default model';
    this._offer = null;
    this._switching = true;
    this._changed.emit();
    try {
      session.showMessage(`Checking model version ${version}…`, 'info');
      let lease;
      try {
        lease = await this._engines.acquire({
          backend: session.settings.backend,
          modelUrl: session.fileUrl(path),
          fetchFunc: session.serverFetch,
          samples: session.settings.mcSamples
        });
      } catch (e) {
        session.showMessage(`Model version ${version} refused: ${messageOf(e)}. Still using ${still}.`, 'error');
        return false;
      }
      try {
        session.updateSettings({ modelPath: path });
        const region = session.analysis.result?.region.region;
        session.showMessage(`Switched to model version ${version}; re-analysing.`, 'info');
        await session.analysis.analyze(region);
      } finally {
        // The analysis holds its own lease on the same model now.
        lease.release();
      }
      return true;
    } finally {
      this._switching = false;
      this._changed.emit();
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    if (this._timer !== null) {
      clearInterval(this._timer);
    }
    Signal.clearData(this);
  }

  private _onResult(_: unknown, result: AnalysisResult | null): void {
    if (result && this._truthBytes) {
      void this._measure(result);
    }
  }

  private async _measure(result: AnalysisResult): Promise<void> {
    const source = this._session.source;
    const bytes = this._truthBytes;
    if (!source || !bytes) {
      return;
    }
    const classNames = result.model.metadata.classes.map(c => c.name);
    try {
      if (!this._truth || this._truth.path !== bytes.path || this._truthClasses !== classNames.length) {
        this._truth = await readGroundTruth(bytes.path, bytes.bytes, classNames.length);
        this._truthClasses = classNames.length;
      }
    } catch (e) {
      this._truth = null;
      this._truthNote = messageOf(e);
      this._changed.emit();
      return;
    }
    const region = result.region;
    const dice = diceOfResult(this._truth, region, resultLabels(region), classNames.length, source.info.width, source.info.height);
    const meta = result.model.metadata;
    const round: ModelRound = {
      model: `${meta.name}@${meta.version}`,
      modelPath: this._session.settings.modelPath,
      region: { ...region.region },
      dice,
      classNames,
      partial: region.partial
    };
    const before = [...this._rounds].reverse().find(r => sameRect(r.region, round.region) && r.modelPath !== round.modelPath) ?? null;
    this._rounds = [...this._rounds, round];
    this._changed.emit();
    const version = versionOfPath(this.folder, round.modelPath);
    const store = this._session.corrections as unknown as ModelRounds.IModelStore | null;
    if (version && store?.annotateModel && store.manifest) {
      // The numbers go to the version's manifest entry too (when it has one).
      await store
        .annotateModel(version, {
          dice: {
            truth: bytes.path,
            region: [round.region.x, round.region.y, round.region.width, round.region.height],
            before: before ? roundRecord(before) : null,
            after: roundRecord(round)
          }
        })
        .catch(() => undefined);
    }
  }

  private _session: ISlideSession;
  private _contents: Contents.IManager;
  private _engines: IEngineService;
  private _truthBytes: { path: string; bytes: ArrayBuffer } | null = null;
  private _truth: GroundTruth | null = null;
  private _truthClasses = 0;
  private _truthNote = '';
  private _rounds: ModelRound[] = [];
  private _offer: ModelOffer | null = null;
  private _stamps = new Map<string, string>();
  private _own = new Set<string>();
  private _checking = false;
  private _switching = false;
  private _timer: ReturnType<typeof setInterval> | null = null;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}

export namespace ModelRounds {
  export interface IOptions {
    session: ISlideSession;
    contents: Contents.IManager;
    engines: IEngineService;
    folder: string;
  }
  /** What ModelRounds needs of the corrections store. */
  export interface IModelStore {
    manifest: unknown;
    annotateModel?(version: string, fields: { dice: Record<string, unknown> }): Promise<unknown>;
  }
}
