export * from './maps';
export * from './scoring';
export * from './tiling';
