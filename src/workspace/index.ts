/** The corrections workspace: `<slide>.uga/` through the Contents API (docs/corrections-format.md). */
export {
  CorrectionsStore,
  DEFAULT_MODEL_PATH,
  type ContentsLike,
  type CorrectionsStoreOptions,
  type ImportOptions,
  type ImportResult,
  type ModelRecord,
  type RestoreResult,
  type SaveOutcome
} from './CorrectionsStore';
export { WorkspaceError, type WorkspaceErrorKind } from './errors';
export { type Conflict, type Resolution, describeConflict, mergeManifests } from './merge';
export { type Manifest, type ManifestPatch, patchId, validateManifest, manifestErrors } from './manifest';
export { maskToGeoJSON, maskPolygons, type FeatureCollection } from './trace';
export { rasterizeRings } from './rasterize';
export { parseGeoJSON, planImport, geoJSONProblems } from './geojson';
export { modelHash, modelHashFromUrl } from './modelHash';
export { correctionsFolder } from './paths';
