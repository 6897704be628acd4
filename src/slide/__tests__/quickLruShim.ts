/**
 * CommonJS stand-in for the ESM-only `quick-lru` package, which geotiff's
 * CommonJS build requires (for its BlockedSource, which the slide stage does
 * not use). Jest on Node 20 cannot require ESM; plain Node (tsx) can, so this
 * is used only by the jest specs: `jest.mock('quick-lru', () => require('./quickLruShim'))`.
 */
class QuickLRU<K, V> extends Map<K, V> {
  private readonly maxSize: number;
  constructor(options: { maxSize?: number } = {}) {
    super();
    this.maxSize = options.maxSize ?? Infinity;
  }
  set(key: K, value: V): this {
    super.delete(key);
    super.set(key, value);
    while (this.size > this.maxSize) {
      super.delete(this.keys().next().value as K);
    }
    return this;
  }
  get(key: K): V | undefined {
    if (!super.has(key)) {
      return undefined;
    }
    const v = super.get(key) as V;
    super.delete(key);
    super.set(key, v);
    return v;
  }
  peek(key: K): V | undefined {
    return super.get(key);
  }
}
module.exports = { __esModule: true, default: QuickLRU };
