import type { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import { correctionFor } from './patches';
import type { AnalysisResult, Correction, ISlideSession, ReviewItem } from '../tokens';
import type { CorrectionsStore } from '../workspace/CorrectionsStore';
import type { SuggestedPatch } from '../uncertainty/suggestions';

/**
 * Keeps a slide's review queue and its `<slide>.uga` folder in step: the
 * folder is read when the slide opens (the queue and corrected masks come
 * back), each analysis writes its suggestions, accept / skip write the patch.
 * Writes run one after the other; a failed one leaves the patch 'unsaved'
 * in the store (the queue shows it, Retry writes it again) and nothing on
 * disk half-written.
 */
export class CorrectionsSync implements IDisposable {
  constructor(session: ISlideSession, store: CorrectionsStore, options: CorrectionsSync.IOptions = {}) {
    this._session = session;
    this._store = store;
    this._hash = options.modelHash ?? (async () => '');
    session.analysis.resultChanged.connect(this._onResult, this);
    session.review.changed.connect(this._onReview, this);
  }

  /** Resolves when the folder has been read (null: no folder yet). */
  get restored(): Promise<void> {
    return this._restored;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (!this._disposed) {
      this._disposed = true;
      Signal.disconnectReceiver(this);
    }
  }

  /** Read the folder once the slide is open; restore the queue if nothing was analysed meanwhile. */
  start(): Promise<void> {
    this._restored = this._queue(async () => {
      let result;
      try {
        result = await this._store.restore();
      } catch (e) {
        this._readError = e instanceof Error ? e.message : String(e);
        this._session.showMessage(`The corrections folder cannot be used: ${this._readError}`, 'error');
        return;
      }
      if (!result || result.patches.length === 0 || this._session.analysis.result) {
        return;
      }
      this._syncing = true;
      try {
        // Queue positions 1..n (ranks of several runs may repeat); the manifest keeps its own ranks.
        const items = [...result.patches]
          .sort((a, b) => a.rank - b.rank)
          .map((c, i) => itemOf(c, result.manifest.analysis.strategy, i + 1));
        this._session.review.reset(items);
      } finally {
        this._syncing = false;
      }
      const corrected = result.patches.filter(p => p.status === 'corrected').length;
      this._session.showMessage(
        `Restored ${result.patches.length} patches from ${this._store.folder}` + (corrected ? ` (${corrected} corrected).` : '.'),
        'info'
      );
    });
    return this._restored;
  }

  /** Write what failed before (all unsaved patches: the manifest is written whole). */
  retry(): Promise<void> {
    return this._queue(async () => {
      const outcome = await this._store.retry();
      this._report(outcome.error);
    });
  }

  private _onResult(_: unknown, result: AnalysisResult | null): void {
    if (!result || this._readError) {
      return;
    }
    const session = this._session;
    const source = session.source;
    if (!source) {
      return;
    }
    void this._queue(async () => {
      const classes = result.model.metadata.classes;
      const patches: Correction[] = [];
      for (const s of result.suggestions) {
        patches.push(await correctionFor(source, result.region, s, classes));
      }
      const meta = result.model.metadata;
      const settings = session.settings;
      const outcome = await this._store.writeSuggestions({
        slide: {
          path: session.path.split('/').pop()!,
          width: source.info.width,
          height: source.info.height,
          mpp: source.info.mppX ?? null
        },
        model: {
          path: settings.modelPath,
          hash: await this._hash(result.modelUrl).catch(() => ''),
          name: meta.name,
          version: meta.version
        },
        analysis: {
          T: result.summary.samples,
          strategy: settings.scoreStrategy,
          patchSize: settings.patchSize,
          mpp: meta.mpp ?? null,
          level: result.region.level,
          downsample: result.region.scale
        },
        classes,
        patches
      });
      this._report(outcome.error);
    }).catch(e =>
      this._session.showMessage(`Suggestions were not written to the workspace: ${e instanceof Error ? e.message : String(e)}`, 'error')
    );
  }

  private _onReview(_: unknown, ranks: number[]): void {
    if (this._syncing || this._readError) {
      return;
    }
    for (const rank of ranks) {
      const item = this._session.review.item(rank);
      if (!item) {
        continue;
      }
      const id = item.suggestion.id;
      void this._queue(async () => {
        let outcome;
        if (item.status === 'corrected' && item.correction) {
          outcome = await this._store.accept({ ...item.correction, id, status: 'corrected' });
        } else if (this._store.correction(id)) {
          outcome = await this._store.setStatus(id, item.status);
        } else {
          return;
        }
        this._report(outcome.error);
      }).catch(e => this._session.showMessage(`Patch ${rank} was not saved: ${e instanceof Error ? e.message : String(e)}`, 'error'));
    }
  }

  private _report(error: Error | null): void {
    if (error) {
      this._session.showMessage(
        `Not saved to ${this._store.folder}: ${error.message} The corrections stay in the panel, marked unsaved; use Retry.`,
        'error'
      );
    } else if (this._hadError) {
      this._session.showMessage(`Saved to ${this._store.folder}.`, 'info');
    }
    this._hadError = !!error;
  }

  /** Run writes one after another (a failing one does not stop the next). */
  private _queue(task: () => Promise<void>): Promise<void> {
    const next = this._chain.then(task);
    this._chain = next.catch(() => undefined);
    return next;
  }

  private _session: ISlideSession;
  private _store: CorrectionsStore;
  private _hash: (url: string) => Promise<string>;
  private _chain: Promise<void> = Promise.resolve();
  private _restored: Promise<void> = Promise.resolve();
  private _syncing = false;
  private _readError: string | null = null;
  private _hadError = false;
  private _disposed = false;
}

export namespace CorrectionsSync {
  export interface IOptions {
    /** `sha256:` hash of the model at a URL (model.json + shards). */
    modelHash?: (url: string) => Promise<string>;
  }
}

/** A queue item for a patch read back from the folder. */
function itemOf(c: Correction, strategy: string, position: number): ReviewItem {
  const [x, y, width, height] = c.box;
  const size = c.patchSize;
  let fg = 0;
  let labelled = 0;
  for (const v of c.mask) {
    if (v !== 255) {
      labelled++;
      fg += v > 0 ? 1 : 0;
    }
  }
  const suggestion: SuggestedPatch = {
    id: c.id,
    rank: position,
    score: c.score,
    x,
    y,
    width,
    height,
    meanEntropy: 0,
    meanMutualInformation: 0,
    foregroundFraction: labelled ? fg / labelled : 0,
    mapRect: { x: 0, y: 0, width: size, height: size },
    valid: { x: 0, y: 0, width: size, height: size },
    partial: false,
    tissueFraction: 1,
    strategy: strategy as SuggestedPatch['strategy']
  };
  return { suggestion, status: c.status, correction: c };
}
