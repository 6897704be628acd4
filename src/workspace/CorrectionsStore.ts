/**
 * The slide's `<slide>.uga/` corrections folder, read and written through
 * JupyterLab's Contents API in the format of docs/corrections-format.md.
 *
 * The panel's state (this.patches) is the truth of what the person did;
 * every change marks what must reach the disk, and one flush at a time
 * writes it: PNGs first, then manifest.json, then annotations.geojson, each
 * to a temporary name and renamed into place. A failed flush leaves the
 * patches 'unsaved' with a message; retry() flushes again. Before the
 * manifest is replaced, its last_modified is compared with the one this
 * store last read or wrote: a change from outside (the notebook, another
 * tab) is merged patch by patch, and a patch changed on both sides is put to
 * `resolveConflict` — never overwritten silently.
 */
import type { Contents } from '@jupyterlab/services';
import { Signal, type ISignal } from '@lumino/signaling';
import type { IDisposable } from '@lumino/disposable';
import type { ModelClassInfo } from '../engine/model';
import {
  IGNORE_LABEL,
  type Correction,
  type CorrectionsChange,
  type ICorrectionsStore,
  type SaveState,
  type SuggestionRun
} from '../tokens';
import { WorkspaceError, httpStatus, saveFailure } from './errors';
import {
  type Manifest,
  type ManifestModel,
  type ManifestPatch,
  ID_PATTERN,
  manifestText,
  nowIso,
  patchEntry,
  patchFiles,
  patchId,
  runHeader,
  sameClasses,
  validateManifest
} from './manifest';
import { type Conflict, type Resolution, mergeManifests, stableJson } from './merge';
import { ANNOTATIONS, MANIFEST, basename, correctionsFolder, dirname, join, relative, unsafeRelPath } from './paths';
import { decodePng, encodeGreyPng, encodeRgbPng, fromBase64, toBase64, toMask, toRgba } from './png';
import { type FeatureCollection, type MaskToGeoJSONOptions, maskToGeoJSON } from './trace';
import { parseGeoJSON, planImport } from './geojson';

/** The part of Contents.IManager the store uses (app.serviceManager.contents fits). */
export type ContentsLike = Pick<Contents.IManager, 'get' | 'save' | 'rename' | 'delete'>;

export interface CorrectionsStoreOptions {
  contents: ContentsLike;
  /** Workspace path of the slide (`slides/X.svs`); the folder is `slides/X.svs.uga`. */
  slidePath: string;
  /**
   * Asked when manifest.json changed outside the panel and some patches
   * changed on both sides: keep 'mine' (the panel's), take 'theirs' (the
   * disk's), or 'cancel' (write nothing; the patches stay unsaved). Without
   * it, such a save is cancelled.
   */
  resolveConflict?: (conflicts: Conflict[]) => Promise<Resolution>;
  /** annotations.geojson layout (default: one Feature per class and patch, like the Python writer). */
  geojson?: Pick<MaskToGeoJSONOptions, 'featurePer'>;
}

/** Written as model.path when the run used the model shipped with the extension. */
export const DEFAULT_MODEL_PATH = 'jupyterlab_uga:default_model';

export interface RestoreResult {
  manifest: Manifest;
  patches: Correction[];
}

export interface SaveOutcome {
  saved: boolean;
  /** Why not (also in saveError of each unsaved patch). */
  error: WorkspaceError | null;
}

export interface ModelRecord {
  /** Folder name under models/, `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`. */
  version: string;
  /** Relative to the corrections folder, default `models/<version>`. */
  path?: string;
  hash: string;
  parentHash?: string | null;
  patches?: string[];
  settings?: Record<string, unknown>;
  /** Dice against the slide's ground truth before and after the round (see docs/corrections-format.md). */
  dice?: Record<string, unknown>;
}

export interface ImportOptions {
  /** RGBA (or RGB) pixels of a level-0 box at analysis resolution, patchSize x patchSize. */
  readImage: (box: [number, number, number, number], patchSize: number) => Promise<Uint8ClampedArray | Uint8Array>;
  /** Value of pixels no annotation covers: IGNORE_LABEL (default) or a class index (e.g. 0, background). */
  fill?: number;
}

export interface ImportResult {
  /** status 'corrected', not saved yet: pass them to accept() once the user agreed. */
  corrections: Correction[];
  /** Class names in the file the model does not have (their shapes were left out). */
  unknownClasses: string[];
  /** Features that are not polygons, with the reason. */
  skipped: { index: number; reason: string }[];
}

const PNG_CONCURRENCY = 4;
const MAX_MERGE_ROUNDS = 5;

function notFound(err: unknown): boolean {
  return httpStatus(err) === 404;
}

function token(): string {
  return Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
}

async function pool<T>(items: T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      await fn(items[next++]);
    }
  });
  await Promise.all(workers);
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

export class CorrectionsStore implements ICorrectionsStore, IDisposable {
  readonly folder: string;
  readonly slidePath: string;

  constructor(options: CorrectionsStoreOptions) {
    this._contents = options.contents;
    this.slidePath = options.slidePath;
    this.folder = correctionsFolder(options.slidePath);
    this._resolve = options.resolveConflict ?? null;
    this._geojson = options.geojson ?? {};
  }

  get changed(): ISignal<this, CorrectionsChange> {
    return this._changed;
  }

  /** Patches known to the panel, rank order (then id). */
  get patches(): readonly Correction[] {
    return [...this._corrections.values()].sort((a, b) => a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The manifest as the panel wants it on disk (null before restore/writeSuggestions). */
  get manifest(): Readonly<Manifest> | null {
    return this._manifest;
  }

  /** Ids whose last save failed. */
  get unsaved(): string[] {
    return [...this._state].filter(([, s]) => s === 'unsaved').map(([id]) => id);
  }

  /** True while changes are waiting to be written (after a failure: until retry() succeeds). */
  get dirty(): boolean {
    return this._dirtyManifest || this._pendingPngs.size > 0 || this._dirtyAnnotations;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (!this._disposed) {
      this._disposed = true;
      Signal.clearData(this);
    }
  }

  correction(id: string): Correction | null {
    return this._corrections.get(id) ?? null;
  }

  saveState(id: string): SaveState {
    return this._state.get(id) ?? 'saved';
  }

  saveError(id: string): string | null {
    return this._errors.get(id) ?? null;
  }

  // --------------------------------------------------------------------------- read

  /**
   * Read `<slide>.uga/`: null when there is no folder (or one without a
   * manifest, nothing to recover). Throws a WorkspaceError (message for the
   * user) for a newer formatVersion, a schema failure, a path leaving the
   * folder, a missing or wrong PNG; it writes nothing then.
   */
  async restore(): Promise<RestoreResult | null> {
    const result = await this._restore();
    this._restored = true; // only a folder that was read (or is absent) may be written
    return result;
  }

  private async _restore(): Promise<RestoreResult | null> {
    try {
      await this._contents.get(this.folder, { content: false });
    } catch (e) {
      if (notFound(e)) {
        return null;
      }
      throw saveFailure(e, this.folder, 'read');
    }
    const read = await this._readManifest();
    if (!read) {
      return null;
    }
    const manifest = validateManifest(read.value, join(this.folder, MANIFEST));
    const corrections = new Map<string, Correction>();
    await pool(manifest.patches, PNG_CONCURRENCY, async p => {
      corrections.set(p.id, await this._loadPatch(manifest, p));
    });
    this._manifest = clone(manifest);
    this._setBase(manifest, read.lastModified, read.text);
    this._corrections = corrections;
    this._state.clear();
    this._errors.clear();
    this._pendingPngs.clear();
    this._dirtyManifest = read.recovered;
    this._dirtyAnnotations = false;
    // patches/ or masks/ may be missing (Python creates them on first use): made on first write
    this._foldersMade = false;
    this._changed.emit({ ids: [] });
    if (read.recovered) {
      this._deleteAfter.add(read.from!);
      await this.flush();
    }
    return { manifest: clone(manifest), patches: [...this.patches] };
  }

  // --------------------------------------------------------------------------- write

  /**
   * Write a suggestion run: the manifest lists every suggested patch (with
   * its image and, when given, the predicted mask), so the queue survives a
   * reload. Patches already 'corrected' or 'skipped' in the folder are kept
   * (they are the person's work); the previous run's still-'suggested'
   * patches are replaced and their PNGs removed. A suggestion whose id is a
   * kept patch with the same box is dropped (already reviewed); with another
   * box it gets a new id (`<id>.2`, ...). Refused (WorkspaceError 'usage')
   * when kept patches were made at another patchSize or with other classes.
   */
  async writeSuggestions(run: SuggestionRun): Promise<SaveOutcome> {
    if (!this._restored) {
      await this.restore(); // never overwrite a folder that was not read
    }
    const time = nowIso();
    const old = this._manifest;
    const kept = (old?.patches ?? []).filter(p => p.status !== 'suggested');
    if (old && kept.length) {
      if (old.analysis.patchSize !== run.analysis.patchSize) {
        throw new WorkspaceError(
          'usage',
          `${this.folder} holds ${kept.length} reviewed patches of ${old.analysis.patchSize} px; this run uses ${run.analysis.patchSize} px. Use the same patch size, or move the folder away to start anew.`
        );
      }
      if (!sameClasses(old.classes, run.classes)) {
        throw new WorkspaceError(
          'usage',
          `${this.folder} holds reviewed patches labelled with other classes (${old.classes.map(c => c.name).join(', ')}); this model has ${run.classes.map(c => c.name).join(', ')}.`
        );
      }
    }
    const header = runHeader(run, this._modelPath(run.model.path));
    const keptIds = new Map(kept.map(p => [p.id, p]));
    const taken = new Set(keptIds.keys());
    const suggestions: Correction[] = [];
    for (const c of run.patches) {
      let id = c.id;
      const same = keptIds.get(id);
      if (same) {
        if (stableJson(same.box) === stableJson(c.box.map(Math.round))) {
          continue; // this box was reviewed already
        }
        let k = 2;
        while (taken.has(`${c.id}.${k}`)) {
          k++;
        }
        id = `${c.id}.${k}`;
      }
      taken.add(id);
      suggestions.push({ ...c, id, status: 'suggested', classes: run.classes });
    }
    const entries = suggestions.map(c => patchEntry(c, time));
    const manifest: Manifest = {
      ...header,
      created: old?.created ?? time,
      updated: time,
      patches: [...kept, ...entries],
      models: old?.models ?? []
    };
    // files of dropped suggestions go after the manifest no longer names them
    const names = new Set(manifest.patches.flatMap(p => Object.values(patchFiles(p))));
    for (const p of old?.patches ?? []) {
      if (p.status === 'suggested' && !taken.has(p.id)) {
        for (const f of Object.values(patchFiles(p))) {
          if (!names.has(f)) {
            this._deleteAfter.add(f);
          }
        }
        this._corrections.delete(p.id);
        this._state.delete(p.id);
        this._errors.delete(p.id);
        this._pendingPngs.delete(p.id);
      }
    }
    for (const c of suggestions) {
      this._checkPixels(c, run.analysis.patchSize, run.classes.length);
      this._corrections.set(c.id, this._copy(c));
      const hasMask = c.mask && c.mask.length === c.patchSize * c.patchSize && c.mask.some(v => v !== IGNORE_LABEL);
      this._pendingPngs.set(c.id, { image: true, mask: !!hasMask });
      this._markDirty(c.id);
    }
    for (const f of names) {
      this._deleteAfter.delete(f);
    }
    this._manifest = manifest;
    this._dirtyManifest = true;
    this._dirtyAnnotations = true;
    this._changed.emit({ ids: [] });
    return this.flush();
  }

  /**
   * The person accepted these corrections: status 'corrected', image and
   * mask written (PNGs first, then the manifest), annotations.geojson
   * regenerated. Needs a manifest (restore() found one or writeSuggestions()
   * wrote one).
   */
  async accept(corrections: Correction | readonly Correction[]): Promise<SaveOutcome> {
    const list = Array.isArray(corrections) ? corrections : [corrections as Correction];
    const manifest = this._requireManifest();
    const time = nowIso();
    const size = manifest.analysis.patchSize;
    let nextRank = 1 + Math.max(0, ...manifest.patches.map(p => p.rank));
    for (const c0 of list) {
      const c: Correction = { ...c0, status: 'corrected' };
      this._checkPixels(c, size, manifest.classes.length, true);
      const i = manifest.patches.findIndex(p => p.id === c.id);
      if (i < 0 && !(c.rank >= 1)) {
        c.rank = nextRank++;
      }
      const entry = patchEntry(c, time, i >= 0 ? manifest.patches[i] : undefined);
      if (i >= 0) {
        manifest.patches[i] = entry;
      } else {
        manifest.patches.push(entry);
      }
      this._corrections.set(c.id, this._copy(c));
      this._pendingPngs.set(c.id, { image: true, mask: true });
      this._markDirty(c.id);
    }
    this._dirtyManifest = true;
    this._dirtyAnnotations = true;
    this._changed.emit({ ids: list.map(c => c.id) });
    return this.flush();
  }

  /** The person rejected this patch: status 'skipped' (never trained on). */
  async skip(id: string): Promise<SaveOutcome> {
    return this.setStatus(id, 'skipped');
  }

  /** Change a patch's status without new pixels (e.g. back to 'suggested'). A corrected patch keeps its mask file. */
  async setStatus(id: string, status: Correction['status']): Promise<SaveOutcome> {
    const manifest = this._requireManifest();
    const i = manifest.patches.findIndex(p => p.id === id);
    const c = this._corrections.get(id);
    if (i < 0 || !c) {
      throw new WorkspaceError('usage', `no patch '${id}' in ${this.folder}`);
    }
    const wasCorrected = manifest.patches[i].status === 'corrected';
    manifest.patches[i] = { ...manifest.patches[i], status, updated: nowIso() };
    this._corrections.set(id, { ...c, status });
    this._markDirty(id);
    this._dirtyManifest = true;
    this._dirtyAnnotations ||= wasCorrected || status === 'corrected';
    this._changed.emit({ ids: [id] });
    return this.flush();
  }

  /**
   * Write what a failed save left unsaved. The manifest is written whole, so
   * retrying one patch retries all of them; `id` only has to be known.
   */
  async retry(id?: string): Promise<SaveOutcome> {
    if (id !== undefined && !this._corrections.has(id)) {
      throw new WorkspaceError('usage', `no patch '${id}' in ${this.folder}`);
    }
    return this.flush();
  }

  /** Append (or replace, same version) a fine-tuned model in models[]. */
  async recordModel(record: ModelRecord): Promise<SaveOutcome> {
    const manifest = this._requireManifest();
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(record.version)) {
      throw new WorkspaceError('usage', `model version '${record.version}': use letters, digits, '_', '.', '-' (it names a folder)`);
    }
    const path = record.path ?? `models/${record.version}`;
    const why = unsafeRelPath(path);
    if (why) {
      throw new WorkspaceError('unsafe-path', `model ${record.version}: ${why}`);
    }
    const previous = (manifest.models ?? []).find(m => m.version === record.version);
    const entry: ManifestModel = {
      version: record.version,
      path,
      hash: record.hash,
      parentHash: record.parentHash ?? null,
      // Recording the same version again (e.g. with its Dice) keeps its creation time.
      created: previous?.created ?? nowIso(),
      patches: [...(record.patches ?? [])],
      settings: { ...(record.settings ?? {}) }
    };
    if (record.dice) {
      entry.dice = record.dice;
    }
    manifest.models = [...(manifest.models ?? []).filter(m => m.version !== entry.version), entry];
    this._gen++;
    this._dirtyManifest = true;
    return this.flush();
  }

  /**
   * Add fields to an existing models[] entry (e.g. the Dice of a version the
   * notebook wrote); false when the manifest has no entry for `version`.
   */
  async annotateModel(version: string, fields: { dice: Record<string, unknown> }): Promise<SaveOutcome | false> {
    const manifest = this._requireManifest();
    const entry = (manifest.models ?? []).find(m => m.version === version);
    if (!entry) {
      return false;
    }
    manifest.models = (manifest.models ?? []).map(m => (m === entry ? { ...m, dice: fields.dice } : m));
    this._gen++;
    this._dirtyManifest = true;
    return this.flush();
  }

  /** The annotations.geojson content for the corrected patches, from the panel's masks. */
  geoJSON(): FeatureCollection {
    const manifest = this._manifest;
    const features: FeatureCollection['features'] = [];
    for (const p of manifest?.patches ?? []) {
      const c = this._corrections.get(p.id);
      if (p.status !== 'corrected' || !c) {
        continue;
      }
      const size = manifest!.analysis.patchSize;
      features.push(
        ...maskToGeoJSON(c.mask, size, size, p.box, manifest!.classes, { ...this._geojson, properties: { uga: { patch: p.id } } }).features
      );
    }
    return { type: 'FeatureCollection', features };
  }

  /** Write (refresh) annotations.geojson now. */
  async exportGeoJSON(): Promise<{ path: string; features: number }> {
    this._requireManifest();
    const fc = this.geoJSON();
    const path = join(this.folder, ANNOTATIONS);
    await this._serialized(async () => {
      await this._ensureFolders();
      await this._replace(path, JSON.stringify(fc), 'text');
      this._dirtyAnnotations = false;
    });
    return { path, features: fc.features.length };
  }

  /**
   * Read a QuPath GeoJSON file (workspace path) and cut its polygons into
   * corrected patches of this folder's patch size. Nothing is written: show
   * `unknownClasses`, then accept(result.corrections).
   */
  async importGeoJSON(path: string, options: ImportOptions): Promise<ImportResult> {
    const manifest = this._requireManifest();
    let text: string;
    try {
      const m = await this._contents.get(path, { type: 'file', format: 'text', content: true });
      text = typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
    } catch (e) {
      throw saveFailure(e, path, 'read');
    }
    const parsed = parseGeoJSON(text, path);
    const { patchSize: size, level, downsample = 1 } = manifest.analysis;
    const plan = planImport(parsed, manifest.classes, size, downsample, options.fill ?? IGNORE_LABEL);
    let rank = 1 + Math.max(0, ...manifest.patches.map(p => p.rank));
    const corrections: Correction[] = [];
    for (const t of plan.tiles) {
      const image = await options.readImage(t.box, size);
      const old = manifest.patches.find(p => p.id === `qp-${patchId(t.box)}`);
      corrections.push({
        id: `qp-${patchId(t.box)}`,
        rank: old?.rank ?? rank++,
        score: 0,
        box: t.box,
        level,
        downsample: t.box[2] / size,
        patchSize: size,
        classes: manifest.classes,
        mask: t.mask,
        image: image instanceof Uint8ClampedArray ? image : new Uint8ClampedArray(image),
        status: 'corrected'
      });
    }
    return { corrections, unknownClasses: plan.unknownClasses, skipped: plan.skipped };
  }

  /**
   * Write everything pending. Resolves with the outcome; on failure the
   * affected patches are 'unsaved' with saveError set, and nothing the panel
   * holds is dropped.
   */
  flush(): Promise<SaveOutcome> {
    return this._serialized(() => this._flush());
  }

  // --------------------------------------------------------------------------- internals

  private async _flush(): Promise<SaveOutcome> {
    if (!this.dirty && !this._deleteAfter.size) {
      return { saved: true, error: null };
    }
    const ids = [...this._dirtyIds];
    for (const id of ids) {
      this._state.set(id, 'saving');
    }
    this._changed.emit({ ids });
    // ids whose manifest entry goes out with this write (taken with the manifest text)
    let written = new Set<string>();
    try {
      await this._ensureFolders();
      let rounds = 0;
      for (;;) {
        if (!(await this._mergeWithDisk())) {
          // changed again while it was being read: read again, a few times
          if (++rounds > MAX_MERGE_ROUNDS) {
            throw new WorkspaceError(
              'conflict',
              `${join(this.folder, MANIFEST)} keeps changing outside the panel; nothing was overwritten. Retry.`
            );
          }
          continue;
        }
        if (this._pendingPngs.size) {
          // PNGs first: the manifest never names a file that is not there yet;
          // then look at the disk again before replacing the manifest
          await pool([...this._pendingPngs], PNG_CONCURRENCY, ([id, what]) => this._writePngs(id, what));
          continue;
        }
        break;
      }
      // no await between the last check above and the manifest text taken here
      written = new Set(this._dirtyIds);
      this._dirtyIds.clear();
      if (this._dirtyManifest) {
        await this._writeManifest();
      }
      if (this._dirtyAnnotations) {
        const text = JSON.stringify(this.geoJSON());
        this._dirtyAnnotations = false;
        try {
          await this._replace(join(this.folder, ANNOTATIONS), text, 'text');
        } catch (e) {
          this._dirtyAnnotations = true;
          throw e;
        }
      }
      for (const f of [...this._deleteAfter]) {
        try {
          await this._contents.delete(join(this.folder, f));
        } catch (e) {
          if (!notFound(e)) {
            continue; // an orphan PNG is harmless; try again next time
          }
        }
        this._deleteAfter.delete(f);
      }
      // a patch changed again meanwhile stays 'saving' for the next flush
      const done = [...written].filter(id => !this._dirtyIds.has(id));
      for (const id of done) {
        this._state.set(id, 'saved');
        this._errors.delete(id);
      }
      this._lastError = null;
      this._changed.emit({ ids: done });
      return { saved: true, error: null };
    } catch (e) {
      const err = e instanceof WorkspaceError ? e : saveFailure(e, this.folder);
      this._lastError = err;
      for (const id of written) {
        this._dirtyIds.add(id);
      }
      // the folder may have been removed meanwhile: make it again on retry
      this._foldersMade = false;
      const failed = [...this._dirtyIds];
      for (const id of failed) {
        this._state.set(id, 'unsaved');
        this._errors.set(id, err.message);
      }
      this._changed.emit({ ids: failed });
      return { saved: false, error: err };
    }
  }

  /** Last error of a failed flush (also for changes without a patch, e.g. recordModel). */
  get lastError(): WorkspaceError | null {
    return this._lastError;
  }

  /**
   * Compare the manifest on disk with the one last read/written; merge when it
   * changed. Returns false when it changed again during the merge's reads.
   */
  private async _mergeWithDisk(): Promise<boolean> {
    const path = join(this.folder, MANIFEST);
    let lastModified: string | null;
    try {
      lastModified = (await this._contents.get(path, { content: false })).last_modified ?? null;
    } catch (e) {
      if (!notFound(e)) {
        throw saveFailure(e, path, 'read');
      }
      lastModified = null;
    }
    if (lastModified === this._baseModified) {
      return true;
    }
    if (lastModified === null) {
      // deleted from outside: everything the panel holds is written again
      this._baseModified = null;
      this._dirtyManifest = true;
      this._dirtyAnnotations = true;
      this._existing.clear();
      for (const c of this._corrections.values()) {
        const hasMask = c.status === 'corrected' || c.mask.some(v => v !== IGNORE_LABEL);
        this._pendingPngs.set(c.id, { image: true, mask: hasMask });
      }
      return true;
    }
    const read = await this._readManifest(false);
    if (!read) {
      return false;
    }
    if (read.lastModified !== lastModified) {
      return false;
    }
    if (read.text === this._baseText) {
      this._baseModified = read.lastModified;
      return true;
    }
    let theirs: Manifest;
    try {
      theirs = validateManifest(read.value, path);
    } catch (e) {
      throw new WorkspaceError(
        'conflict',
        `${path} was changed outside the panel and cannot be merged: ${(e as Error).message} Fix or remove it, then Retry; nothing was overwritten.`,
        e
      );
    }
    const gen = this._gen;
    const mine = clone(this._requireManifest());
    const base = this._base ?? { ...mine, patches: [], models: [] };
    let result = mergeManifests(base, mine, theirs);
    if (result.conflicts.length) {
      const answer = this._resolve ? await this._resolve(result.conflicts) : 'cancel';
      if (answer === 'cancel') {
        throw new WorkspaceError(
          'conflict',
          `${path} was changed outside the panel (${result.conflicts.length} patch${result.conflicts.length > 1 ? 'es' : ''} changed on both sides); nothing was overwritten. Retry to choose again.`
        );
      }
      result = mergeManifests(base, mine, theirs, answer);
    }
    validateManifest(result.merged, `${path} (merged)`);
    // what the disk decided: its PNGs are the truth for those patches
    const loaded = new Map<string, Correction | null>();
    for (const id of result.takenFromTheirs) {
      const entry = result.merged.patches.find(p => p.id === id);
      loaded.set(id, entry ? await this._loadPatch(result.merged, entry) : null);
    }
    if (gen !== this._gen) {
      return false; // the panel changed meanwhile: merge again with its new state
    }
    for (const [id, c] of loaded) {
      this._pendingPngs.delete(id);
      if (c) {
        this._corrections.set(id, c);
      } else {
        this._corrections.delete(id);
      }
      this._dirtyIds.delete(id);
      this._state.delete(id);
      this._errors.delete(id);
      this._dirtyAnnotations = true;
    }
    this._manifest = result.merged;
    this._setBase(theirs, read.lastModified, read.text);
    // the merged state differs from the disk unless every change came from there
    this._dirtyManifest = stableJson({ ...result.merged, updated: 0 }) !== stableJson({ ...theirs, updated: 0 });
    if (result.takenFromTheirs.length) {
      this._changed.emit({ ids: result.takenFromTheirs });
    }
    return true;
  }

  private async _writeManifest(): Promise<void> {
    const manifest = this._requireManifest();
    manifest.updated = nowIso();
    const path = join(this.folder, MANIFEST);
    validateManifest(manifest, `${path} (about to be written)`);
    const text = manifestText(manifest);
    const snapshot = clone(manifest);
    // cleared before the write: a change made while it is under way sets it again
    this._dirtyManifest = false;
    let model: Contents.IModel;
    try {
      model = await this._replace(path, text, 'text', this._baseModified !== null);
    } catch (e) {
      this._dirtyManifest = true;
      throw e;
    }
    this._setBase(snapshot, model.last_modified ?? null, text);
  }

  private async _writePngs(id: string, what: { image: boolean; mask: boolean }): Promise<void> {
    const c = this._corrections.get(id);
    const entry = this._manifest?.patches.find(p => p.id === id);
    // a newer accept of the same patch replaces the object: then that one is still pending
    const done = () => {
      if (this._pendingPngs.get(id) === what) {
        this._pendingPngs.delete(id);
      }
    };
    if (!c || !entry) {
      done();
      return;
    }
    const files = patchFiles(entry);
    const size = c.patchSize;
    if (what.image) {
      await this._replace(join(this.folder, files.image), toBase64(encodeRgbPng(c.image, size, size)), 'base64');
      what.image = false;
    }
    if (what.mask) {
      await this._replace(join(this.folder, files.mask), toBase64(encodeGreyPng(c.mask, size, size)), 'base64');
      what.mask = false;
    }
    done();
  }

  /**
   * Write `content` to a temporary name next to `path`, then move it over
   * `path`. jupyter_server's rename refuses an existing target (409 "File
   * already exists") and its save writes in place (a crash mid-write leaves
   * a torn file), so an existing file is first renamed aside to `.old`, the
   * new one renamed in, and the old one deleted. Between the two renames
   * `path` is missing (a reader then gets "no manifest.json", never a torn
   * one) while both complete versions exist; restore() finishes such an
   * interrupted replace. Temporary names must not start with '.': the
   * server refuses to rename hidden files.
   */
  private async _replace(path: string, content: string, format: 'text' | 'base64', mayExist = true): Promise<Contents.IModel> {
    const t = token();
    const tmp = join(dirname(path), `${basename(path)}.${t}.tmp`);
    try {
      await this._contents.save(tmp, { type: 'file', format, content });
    } catch (e) {
      await this._contents.delete(tmp).catch(() => undefined);
      throw saveFailure(e, path);
    }
    if (!mayExist || !this._existing.has(path)) {
      try {
        const m = await this._contents.rename(tmp, path);
        this._existing.add(path);
        return m;
      } catch (e) {
        if (httpStatus(e) !== 409) {
          await this._contents.delete(tmp).catch(() => undefined);
          throw saveFailure(e, path);
        }
      }
    }
    const old = join(dirname(path), `${basename(path)}.${t}.old`);
    let asideDone = false;
    try {
      await this._contents.rename(path, old);
      asideDone = true;
    } catch (e) {
      if (!notFound(e)) {
        await this._contents.delete(tmp).catch(() => undefined);
        throw saveFailure(e, path);
      }
    }
    let model: Contents.IModel;
    try {
      model = await this._contents.rename(tmp, path);
    } catch (e) {
      if (asideDone) {
        await this._contents.rename(old, path).catch(() => undefined);
      }
      await this._contents.delete(tmp).catch(() => undefined);
      throw saveFailure(e, path);
    }
    this._existing.add(path);
    if (asideDone) {
      await this._contents.delete(old).catch(() => undefined); // a leftover .old is harmless
    }
    return model;
  }

  private async _ensureFolders(): Promise<void> {
    if (this._foldersMade) {
      return;
    }
    for (const dir of [this.folder, join(this.folder, 'patches'), join(this.folder, 'masks')]) {
      try {
        await this._contents.save(dir, { type: 'directory' });
      } catch (e) {
        throw saveFailure(e, dir);
      }
    }
    this._foldersMade = true;
  }

  /**
   * manifest.json's text and last_modified, or null. When it is missing but
   * an interrupted replace left `manifest.json.<t>.tmp` (new, complete) or
   * `.old`, that one is used and marked for writing (`recovered`).
   */
  private async _readManifest(
    recover = true
  ): Promise<{ value: unknown; text: string; lastModified: string | null; recovered: boolean; from?: string } | null> {
    const path = join(this.folder, MANIFEST);
    const parse = (text: string, where: string) => {
      try {
        return JSON.parse(text) as unknown;
      } catch (e) {
        throw new WorkspaceError('invalid', `${where} is not valid JSON (${(e as Error).message}). Nothing was changed.`, e);
      }
    };
    try {
      const m = await this._contents.get(path, { type: 'file', format: 'text', content: true });
      const text = String(m.content);
      this._existing.add(path);
      return { value: parse(text, path), text, lastModified: m.last_modified ?? null, recovered: false };
    } catch (e) {
      if (e instanceof WorkspaceError) {
        throw e;
      }
      if (!notFound(e)) {
        throw saveFailure(e, path, 'read');
      }
    }
    if (!recover) {
      return null;
    }
    let listing: Contents.IModel;
    try {
      listing = await this._contents.get(this.folder, { type: 'directory', content: true });
    } catch (e) {
      throw saveFailure(e, this.folder, 'read');
    }
    const entries = (Array.isArray(listing.content) ? listing.content : []) as Contents.IModel[];
    const pickNewest = (re: RegExp) => entries.filter(x => re.test(x.name)).sort((a, b) => (a.last_modified < b.last_modified ? 1 : -1))[0];
    const cand = pickNewest(/^manifest\.json\.[a-z0-9]+\.tmp$/) ?? pickNewest(/^manifest\.json\.[a-z0-9]+\.old$/);
    if (!cand) {
      return null;
    }
    const m = await this._contents.get(cand.path, { type: 'file', format: 'text', content: true });
    const text = String(m.content);
    return { value: parse(text, cand.path), text, lastModified: null, recovered: true, from: cand.name };
  }

  private async _loadPatch(manifest: Manifest, p: ManifestPatch): Promise<Correction> {
    const size = manifest.analysis.patchSize;
    const files = patchFiles(p);
    const read = async (rel: string) => {
      const path = join(this.folder, rel);
      try {
        const m = await this._contents.get(path, { type: 'file', format: 'base64', content: true });
        this._existing.add(path);
        return fromBase64(String(m.content));
      } catch (e) {
        if (notFound(e)) {
          return null;
        }
        throw saveFailure(e, path, 'read');
      }
    };
    const imageBytes = await read(files.image);
    if (!imageBytes) {
      throw new WorkspaceError('invalid', `patch ${p.id}: image file ${join(this.folder, files.image)} is missing. Nothing was changed.`);
    }
    const img = decodePng(imageBytes, files.image);
    if (img.width !== size || img.height !== size) {
      throw new WorkspaceError('invalid', `patch ${p.id}: image is ${img.width}x${img.height}, analysis.patchSize is ${size}`);
    }
    const maskBytes = await read(files.mask);
    let mask: Uint8Array;
    if (maskBytes) {
      const m = decodePng(maskBytes, files.mask);
      if (m.width !== size || m.height !== size) {
        throw new WorkspaceError('invalid', `patch ${p.id}: mask size ${m.width}x${m.height} differs from patch size ${size}x${size}`);
      }
      mask = toMask(m, files.mask);
      const bad = new Set<number>();
      for (const v of mask) {
        if (v >= manifest.classes.length && v !== IGNORE_LABEL) {
          bad.add(v);
        }
      }
      if (bad.size) {
        throw new WorkspaceError(
          'invalid',
          `patch ${p.id}: mask values ${JSON.stringify([...bad].sort((a, b) => a - b).slice(0, 5))} are neither a class index < ${manifest.classes.length} nor ${IGNORE_LABEL} (ignore)`
        );
      }
    } else if (p.status === 'corrected') {
      throw new WorkspaceError('invalid', `patch ${p.id} is 'corrected' but its mask ${join(this.folder, files.mask)} is missing`);
    } else {
      mask = new Uint8Array(size * size).fill(IGNORE_LABEL);
    }
    const downsample = typeof p.downsample === 'number' ? p.downsample : p.box[2] / size;
    return {
      id: p.id,
      rank: p.rank,
      score: p.score,
      box: [p.box[0], p.box[1], p.box[2], p.box[3]],
      level: typeof p.level === 'number' ? p.level : manifest.analysis.level,
      downsample,
      patchSize: size,
      classes: manifest.classes.map(c => ({ name: c.name, color: [c.color[0], c.color[1], c.color[2]] })),
      mask,
      image: toRgba(img, files.image),
      status: p.status
    };
  }

  private _checkPixels(c: Correction, size: number, classes: number, needMask = false): void {
    if (!ID_PATTERN.test(c.id)) {
      throw new WorkspaceError('usage', `patch id '${c.id}': use letters, digits, '_', '.', '-' (it names files)`);
    }
    if (c.patchSize !== size) {
      throw new WorkspaceError('usage', `patch ${c.id}: patchSize ${c.patchSize}, the folder uses ${size}`);
    }
    const n = size * size;
    if (!c.image || (c.image.length !== n * 4 && c.image.length !== n * 3)) {
      throw new WorkspaceError('usage', `patch ${c.id}: image must be ${size}x${size} RGBA`);
    }
    if (needMask || c.mask?.length) {
      if (!c.mask || c.mask.length !== n) {
        throw new WorkspaceError('usage', `patch ${c.id}: mask must have ${n} values`);
      }
      for (const v of c.mask) {
        if (v >= classes && v !== IGNORE_LABEL) {
          throw new WorkspaceError('usage', `patch ${c.id}: mask value ${v} is not a class index (< ${classes}) or ${IGNORE_LABEL}`);
        }
      }
    }
  }

  private _copy(c: Correction): Correction {
    return { ...c, box: [...c.box] as Correction['box'], mask: new Uint8Array(c.mask ?? []), image: new Uint8ClampedArray(c.image) };
  }

  private _markDirty(id: string): void {
    this._gen++;
    this._dirtyIds.add(id);
    this._state.set(id, 'saving');
  }

  private _modelPath(path: string): string {
    if (!path) {
      return DEFAULT_MODEL_PATH;
    }
    // relative to the folder holding the .uga folder, like slide.path
    return relative(dirname(this.folder), path);
  }

  private _requireManifest(): Manifest {
    if (!this._manifest) {
      throw new WorkspaceError('usage', `${this.folder} has no manifest yet: analyse the slide (writeSuggestions) or restore() first`);
    }
    return this._manifest;
  }

  private _setBase(m: Manifest, lastModified: string | null, text: string): void {
    this._base = clone(m);
    this._baseModified = lastModified;
    this._baseText = text;
  }

  private _serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this._queue.then(fn, fn);
    this._queue = run.then(
      () => undefined,
      () => undefined
    );
    return run;
  }

  private readonly _contents: ContentsLike;
  private readonly _resolve: ((conflicts: Conflict[]) => Promise<Resolution>) | null;
  private readonly _geojson: Pick<MaskToGeoJSONOptions, 'featurePer'>;
  private _changed = new Signal<this, CorrectionsChange>(this);
  private _disposed = false;
  private _restored = false;
  private _foldersMade = false;
  private _manifest: Manifest | null = null;
  private _base: Manifest | null = null;
  private _baseModified: string | null = null;
  private _baseText: string | null = null;
  private _corrections = new Map<string, Correction>();
  private _state = new Map<string, SaveState>();
  private _errors = new Map<string, string>();
  private _dirtyIds = new Set<string>();
  private _pendingPngs = new Map<string, { image: boolean; mask: boolean }>();
  private _deleteAfter = new Set<string>();
  private _existing = new Set<string>();
  private _dirtyManifest = false;
  /** Counts the panel's changes (a merge that raced one is done again). */
  private _gen = 0;
  private _dirtyAnnotations = false;
  private _lastError: WorkspaceError | null = null;
  private _queue: Promise<unknown> = Promise.resolve();
}

export type { Conflict, Resolution, ModelClassInfo };
