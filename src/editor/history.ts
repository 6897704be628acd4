/**
 * Bounded undo/redo of mask edits that keeps only the changed rectangle of
 * each operation.
 *
 * A stroke spans many pointer moves, so the rect is known only at the end:
 * `begin()` copies the mask once into a scratch buffer (one mask's worth,
 * reused for every stroke), `commit(rect)` keeps the scratch's pixels of
 * that rect: the "before" image. Undo swaps them with the mask, so the
 * entry then holds the "after" image for redo: one buffer per entry.
 * Entries are dropped oldest first beyond `maxEntries` or `maxBytes`.
 */
import { Mask, Rect, readRect, swapRect } from './mask';

export interface HistoryEntry {
  rect: Rect;
  /** Pixels of `rect`: before the edit while undoable, after it once undone. */
  pixels: Uint8Array;
  label: string;
}

export interface HistoryOptions {
  /** Most operations kept; default 100. */
  maxEntries?: number;
  /** Most bytes of pixels kept over all entries; default 16 MiB. */
  maxBytes?: number;
}

export class MaskHistory {
  constructor(
    readonly mask: Mask,
    options: HistoryOptions = {}
  ) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 100);
    this.maxBytes = Math.max(1, options.maxBytes ?? 16 * 1024 * 1024);
    this._scratch = new Uint8Array(mask.data.length);
  }

  readonly maxEntries: number;
  readonly maxBytes: number;

  get canUndo(): boolean {
    return this._undo.length > 0;
  }
  get canRedo(): boolean {
    return this._redo.length > 0;
  }
  /** Operations that can be undone. */
  get undoDepth(): number {
    return this._undo.length;
  }
  get redoDepth(): number {
    return this._redo.length;
  }
  /** Bytes of pixels held by undo and redo entries. */
  get bytes(): number {
    return this._bytes;
  }
  get recording(): boolean {
    return this._open;
  }

  /** Snapshot the mask before an operation. */
  begin(): void {
    this._scratch.set(this.mask.data);
    this._open = true;
  }

  /** Close the operation begun with `begin()`; `rect` = everything it changed (null: nothing, nothing recorded). */
  commit(rect: Rect | null, label = 'edit'): boolean {
    if (!this._open) {
      throw new Error('MaskHistory.commit() without begin()');
    }
    this._open = false;
    if (!rect || rect.width <= 0 || rect.height <= 0) {
      return false;
    }
    const before = readRect({ width: this.mask.width, height: this.mask.height, data: this._scratch }, rect);
    // Nothing actually changed (e.g. painting a class over itself): do not record.
    const now = readRect(this.mask, rect);
    if (now.every((v, i) => v === before[i])) {
      return false;
    }
    for (const e of this._redo) {
      this._bytes -= e.pixels.length;
    }
    this._redo = [];
    this._undo.push({ rect: { ...rect }, pixels: before, label });
    this._bytes += before.length;
    this._trim();
    return true;
  }

  /** Undo the last operation; returns the rect it restored, or null. */
  undo(): Rect | null {
    const e = this._undo.pop();
    if (!e) {
      return null;
    }
    swapRect(this.mask, e.rect, e.pixels);
    this._redo.push(e);
    return e.rect;
  }

  redo(): Rect | null {
    const e = this._redo.pop();
    if (!e) {
      return null;
    }
    swapRect(this.mask, e.rect, e.pixels);
    this._undo.push(e);
    return e.rect;
  }

  clear(): void {
    this._undo = [];
    this._redo = [];
    this._bytes = 0;
    this._open = false;
  }

  private _trim(): void {
    // Keep at least the newest entry even when it alone is over maxBytes.
    while (this._undo.length > 1 && (this._undo.length > this.maxEntries || this._bytes > this.maxBytes)) {
      this._bytes -= this._undo.shift()!.pixels.length;
    }
  }

  private _scratch: Uint8Array;
  private _open = false;
  private _undo: HistoryEntry[] = [];
  private _redo: HistoryEntry[] = [];
  private _bytes = 0;
}
