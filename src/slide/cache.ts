/**
 * Least-recently-used cache bounded by a byte budget (not an entry count):
 * decoded tiles differ a lot in size (edge tiles, levels of PNG slides).
 */
export class LruCache<V> {
  private readonly entries = new Map<string, { value: V; bytes: number }>();
  private totalBytes = 0;
  private cap: number;

  constructor(maxBytes: number) {
    this.cap = Math.max(0, maxBytes);
  }

  get maxBytes(): number {
    return this.cap;
  }

  /** Lowering the cap evicts at once. */
  set maxBytes(value: number) {
    this.cap = Math.max(0, value);
    this.evict();
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) {
      return undefined;
    }
    // Map keeps insertion order: re-insert to mark as most recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Values larger than the whole budget are not stored at all. */
  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.cap || bytes < 0) {
      return;
    }
    this.entries.set(key, { value, bytes });
    this.totalBytes += bytes;
    this.evict();
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.totalBytes -= entry.bytes;
    }
  }

  clear(): void {
    this.entries.clear();
    this.totalBytes = 0;
  }

  private evict(): void {
    while (this.totalBytes > this.cap && this.entries.size > 0) {
      const oldest = this.entries.keys().next().value as string;
      this.delete(oldest);
    }
  }
}
