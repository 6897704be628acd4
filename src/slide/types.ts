/**
 * Shared contracts of the slide stage. Everything downstream (viewer, engine,
 * workspace) talks to a slide only through `SlideSource`.
 */

/** One resolution level of a slide pyramid (level 0 = full resolution). */
export interface SlideLevel {
  /** Index in `SlideInfo.levels`, 0 = full resolution. */
  index: number;
  width: number;
  height: number;
  /** Native tile size of the level (the whole image for strips / PNG). */
  tileWidth: number;
  tileHeight: number;
  /** level-0 pixels per level pixel (>= 1), per axis. */
  downsampleX: number;
  downsampleY: number;
}

/** What a slide is, read from its header only. */
export interface SlideInfo {
  /** e.g. 'aperio-svs' | 'ome-tiff' | 'tiff' | 'png' | 'jpeg' */
  format: string;
  /** Full-resolution size in pixels. */
  width: number;
  height: number;
  /** Levels sorted from full resolution down. Thumbnail/label/macro pages excluded. */
  levels: SlideLevel[];
  /** Physical pixel size at level 0 in micrometres, when known. */
  mppX?: number;
  mppY?: number;
  /** Free-form key/values for the UI (vendor, objective power, compression...). */
  properties: Record<string, string>;
}

/** Pixels of a region: interleaved RGBA, 8 bit, row-major. */
export interface RegionPixels {
  width: number;
  height: number;
  /** length = width * height * 4 */
  data: Uint8ClampedArray;
}

/** A rectangle in the pixel coordinates of one level. */
export interface LevelRect {
  level: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ReadOptions {
  signal?: AbortSignal;
}

/** A readable slide. Implementations read only the bytes they need. */
export interface SlideSource {
  readonly info: SlideInfo;
  /**
   * Read a rectangle of one level as RGBA. Parts outside the level are
   * transparent white (255,255,255,0).
   */
  readRegion(rect: LevelRect, options?: ReadOptions): Promise<RegionPixels>;
  /** Read one native tile (col,row) of a level as RGBA. */
  readTile(level: number, col: number, row: number, options?: ReadOptions): Promise<RegionPixels>;
  /** Bytes fetched from storage so far (for benchmarks and the status line). */
  readonly bytesRead: number;
  /**
   * Bytes the source holds in its caches now (decoded tiles, cached file
   * blocks): bounded by its budgets however long a session runs.
   */
  readonly cachedBytes?: number;
  /** Release caches, workers, decoders. */
  dispose(): void;
}

/** Error with a user-facing message; `kind` drives the UI and the tests. */
export type SlideErrorKind =
  | 'not-found'
  | 'unauthorized'
  | 'network'
  | 'not-a-tiff'
  | 'truncated'
  | 'unsupported-compression'
  | 'unsupported-format'
  | 'invalid-size'
  | 'changed'
  | 'aborted'
  | 'decode';

export class SlideError extends Error {
  constructor(
    readonly kind: SlideErrorKind,
    message: string,
    readonly cause?: unknown
  ) {
    super(message);
    this.name = 'SlideError';
  }
}
