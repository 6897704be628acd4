import { ISignal, Signal } from '@lumino/signaling';
import type { Correction, CorrectionStatus, IReviewModel, ReviewItem } from '../tokens';

/** The review queue of one slide (see IReviewModel). */
export class ReviewModel implements IReviewModel {
  get items(): readonly ReviewItem[] {
    return this._items;
  }
  get changed(): ISignal<this, number[]> {
    return this._changed;
  }
  get current(): number | null {
    return this._current;
  }
  get currentChanged(): ISignal<this, number | null> {
    return this._currentChanged;
  }

  item(rank: number): ReviewItem | null {
    return this._items.find(i => i.suggestion.rank === rank) ?? null;
  }

  setCurrent(rank: number | null): void {
    const value = rank !== null && this.item(rank) ? rank : null;
    if (value !== this._current) {
      this._current = value;
      this._currentChanged.emit(value);
    }
  }

  reset(items: ReviewItem[]): void {
    this._items = [...items].sort((a, b) => a.suggestion.rank - b.suggestion.rank);
    this._changed.emit([]);
    this.setCurrent(null);
  }

  setStatus(rank: number, status: CorrectionStatus, correction: Correction | null = null): void {
    const k = this._items.findIndex(i => i.suggestion.rank === rank);
    if (k < 0) {
      throw new Error(`no suggestion of rank ${rank}`);
    }
    const old = this._items[k];
    this._items = [...this._items];
    // The correction (pixels, mask) stays with the item: re-opening a skipped patch starts from it.
    this._items[k] = { suggestion: old.suggestion, status, correction: correction ?? old.correction };
    this._changed.emit([rank]);
  }

  nextOpen(direction: 1 | -1): number | null {
    const open = this._items.filter(i => i.status === 'suggested').map(i => i.suggestion.rank);
    if (open.length === 0) {
      return null;
    }
    const cur = this._current;
    if (cur === null) {
      return direction === 1 ? open[0] : open[open.length - 1];
    }
    if (direction === 1) {
      return open.find(r => r > cur) ?? open[0];
    }
    return [...open].reverse().find(r => r < cur) ?? open[open.length - 1];
  }

  private _items: ReviewItem[] = [];
  private _current: number | null = null;
  private _changed = new Signal<this, number[]>(this);
  private _currentChanged = new Signal<this, number | null>(this);
}
