/** Public API of the slide stage. */
export * from './types';
export { openSlide, sniffFormat } from './open';
export { disposeDecoderPool } from './tiff';
export type { OpenSlideOptions, SlideFileKind } from './open';
export { chooseLevel, visibleTiles, tileGrid, fitScale, levelDownsample } from './pyramid';
export type { Viewport, TileRef } from './pyramid';
export { LruCache } from './cache';
export { toSlideError } from './errors';
export { configureJpeg2000 } from './jpeg2000';
export { browserImageDecoder } from './raster';
export type { ImageDecoder } from './raster';
export { parseAperioDescription, parseOmeXml, resolutionToMicrons, omeLengthToMicrons } from './metadata';
export { readRegionFromTiles } from './region';
