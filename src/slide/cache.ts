/**
 * Least-recently-used cache bounded by a byte budget (not an entry count):
 * decoded tiles differ a lot in size (edge tiles, levels of PNG slides).
 * A thin adapter over `lru-cache` that adds a changeable budget and an
 * `onEvict` hook, so that tiles holding GPU memory (ImageBitmap) are closed
 * when they leave the cache instead of waiting for garbage collection.
 */
import { LRUCache } from 'lru-cache';

// lru-cache requires a non-nullish value type.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export class LruCache<V extends {}> {
  constructor(maxBytes: number, onEvict?: (value: V, key: string) => void) {
    this._onEvict = onEvict;
    this._cache = this._make(maxBytes);
  }

  get maxBytes(): number {
    return this._cap;
  }

  /** Lowering the cap evicts at once (least recently used first). */
  set maxBytes(value: number) {
    // Least recently used first, so re-inserting keeps the order.
    const old: [string, V, number][] = [];
    for (const k of this._cache?.rkeys() ?? []) {
      old.push([k, this._cache!.peek(k)!, this._sizes.get(k) ?? 0]);
    }
    this._sizes.clear();
    this._cache = this._make(value);
    for (const [key, v, size] of old) {
      this.set(key, v, size);
    }
  }

  get bytes(): number {
    return this._cache?.calculatedSize ?? 0;
  }

  get size(): number {
    return this._cache?.size ?? 0;
  }

  get(key: string): V | undefined {
    return this._cache?.get(key);
  }

  has(key: string): boolean {
    return this._cache?.has(key) ?? false;
  }

  /** Values larger than the whole budget are not stored at all. */
  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (!this._cache || bytes > this._cap || bytes < 0) {
      this._onEvict?.(value, key);
      return;
    }
    this._sizes.set(key, bytes);
    this._cache.set(key, value, { size: Math.max(1, Math.round(bytes)) });
  }

  delete(key: string): void {
    this._cache?.delete(key);
  }

  clear(): void {
    this._cache?.clear();
  }

  private _make(maxBytes: number): LRUCache<string, V> | null {
    this._cap = Math.max(0, maxBytes);
    if (this._cap < 1) {
      return null;
    }
    return new LRUCache<string, V>({
      maxSize: Math.floor(this._cap),
      dispose: (value, key, reason) => {
        this._sizes.delete(key);
        // 'set' = replaced by a new value for the same key: the old one is evicted too.
        if (reason === 'evict' || reason === 'delete' || reason === 'set') {
          this._onEvict?.(value, key);
        }
      }
    });
  }

  private _cap = 0;
  private _cache: LRUCache<string, V> | null;
  private _sizes = new Map<string, number>();
  private _onEvict?: (value: V, key: string) => void;
}
