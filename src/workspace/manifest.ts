/**
 * manifest.json of a `<slide>.uga` folder (docs/corrections-format.md):
 * types, validation against the one JSON Schema the Python package uses,
 * and building entries from the panel's `Correction`s.
 */
import Ajv2020 from 'ajv/dist/2020';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Correction, CorrectionStatus, SuggestionRun } from '../tokens';
import type { ModelClassInfo } from '../engine/model';
import { WorkspaceError } from './errors';
import { unsafeRelPath } from './paths';

// The schema lives in the Python package (jupyterlab_uga/schemas), outside
// tsc's rootDir, so it cannot be an `import`. src/workspace and
// lib/workspace sit at the same depth, so this relative require resolves to
// the same file under ts-jest (CommonJS) and in the Rspack bundle (which
// inlines the JSON).
declare const require: (id: string) => unknown;

const SCHEMA = require('../../jupyterlab_uga/schemas/corrections-manifest.v1.schema.json') as Record<string, unknown>;

export const FORMAT_VERSION = 1;
export const CREATED_BY = 'jupyterlab-uga (panel)';
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export interface ManifestPatch {
  id: string;
  box: [number, number, number, number];
  score: number;
  rank: number;
  status: CorrectionStatus;
  created: string;
  updated: string;
  image?: string;
  mask?: string;
  /** Extra keys written by the panel (allowed by the schema): where the pixels were read. */
  level?: number;
  downsample?: number;
  [extra: string]: unknown;
}

export interface ManifestModel {
  version: string;
  path: string;
  hash: string;
  parentHash?: string | null;
  created: string;
  patches?: string[];
  settings?: Record<string, unknown>;
  [extra: string]: unknown;
}

export interface Manifest {
  formatVersion: number;
  createdBy?: string;
  created?: string;
  updated?: string;
  slide: { path: string; width: number; height: number; mpp?: number | null; [k: string]: unknown };
  model: { path: string; hash: string; name?: string; version?: string; [k: string]: unknown };
  analysis: {
    T: number;
    strategy: string;
    patchSize: number;
    mpp: number | null;
    level: number;
    downsample?: number;
    [k: string]: unknown;
  };
  classes: ModelClassInfo[];
  patches: ManifestPatch[];
  models?: ManifestModel[];
  [extra: string]: unknown;
}

let validator: ValidateFunction | null = null;

function compiled(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: true, strict: false, verbose: true });
    addFormats(ajv, ['date-time']);
    validator = ajv.compile(SCHEMA);
  }
  return validator;
}

/** The schema object (for tests and other validators). */
export function manifestSchema(): Record<string, unknown> {
  return SCHEMA;
}

/** `/patches/3/status` -> `patches[3].status` (the Python reader's notation). */
export function jsonPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  }
  return out || 'manifest';
}

function describe(e: ErrorObject): string {
  const at = jsonPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${at}: missing required '${String(p.missingProperty)}'`;
    case 'enum':
      return `${at}: ${JSON.stringify(e.data)} is not one of ${JSON.stringify(p.allowedValues)}`;
    case 'type':
      return `${at}: expected ${String(p.type)}, got ${JSON.stringify(e.data)}`;
    case 'minItems':
      return `${at}: needs at least ${String(p.limit)} items, has ${(e.data as unknown[]).length}`;
    case 'maxItems':
      return `${at}: at most ${String(p.limit)} items, has ${(e.data as unknown[]).length}`;
    default:
      return `${at}: ${JSON.stringify(e.data)?.slice(0, 60)} ${e.message ?? 'is invalid'}`;
  }
}

/** Schema violations plus the rules JSON Schema cannot say (unique ids); [] when valid. */
export function manifestErrors(manifest: unknown): string[] {
  const validate = compiled();
  const errors: string[] = [];
  if (!validate(manifest)) {
    // ajv reports a failing `$ref` pattern once for the ref and the pattern: keep one line each
    for (const e of validate.errors ?? []) {
      const line = describe(e);
      if (!errors.includes(line)) {
        errors.push(line);
      }
    }
  }
  const patches = (manifest as { patches?: unknown })?.patches;
  if (Array.isArray(patches)) {
    const seen = new Set<string>();
    const dup = new Set<string>();
    for (const p of patches) {
      const id = (p as { id?: unknown })?.id;
      if (typeof id === 'string') {
        (seen.has(id) ? dup : seen).add(id);
      }
    }
    if (dup.size) {
      errors.push(`patches: duplicate ids ${JSON.stringify([...dup].sort())}`);
    }
  }
  return errors;
}

/**
 * Throw a WorkspaceError unless `manifest` is a valid v1 manifest whose paths
 * stay inside the folder. `where` names the file in the message.
 */
export function validateManifest(manifest: unknown, where = 'manifest.json'): Manifest {
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    throw new WorkspaceError('invalid', `${where}: must be a JSON object`);
  }
  const version = (manifest as { formatVersion?: unknown }).formatVersion;
  if (typeof version === 'number' && Number.isInteger(version) && version > FORMAT_VERSION) {
    throw new WorkspaceError(
      'newer-format',
      `${where}: formatVersion ${version} is newer than this jupyterlab-uga reads (${FORMAT_VERSION}); upgrade jupyterlab-uga. Nothing was changed.`
    );
  }
  const m = manifest as Manifest;
  // paths first: a '..' path is also a schema error, but this message says what matters
  const unsafe: string[] = [];
  (Array.isArray(m.patches) ? m.patches : []).forEach((p, i) => {
    for (const key of ['image', 'mask'] as const) {
      if (p && typeof p === 'object' && key in p) {
        const why = unsafeRelPath(p[key]);
        if (why) {
          unsafe.push(`patches[${i}].${key}: ${why}`);
        }
      }
    }
  });
  (Array.isArray(m.models) ? m.models : []).forEach((e, i) => {
    const why = e && typeof e === 'object' ? unsafeRelPath(e.path) : null;
    if (why) {
      unsafe.push(`models[${i}].path: ${why}`);
    }
  });
  if (unsafe.length) {
    throw new WorkspaceError('unsafe-path', `${where} was refused: ${unsafe.join('; ')}. Nothing was changed.`);
  }
  const errors = manifestErrors(manifest);
  if (errors.length) {
    const shown = errors.slice(0, 8).join('; ') + (errors.length > 8 ? `; ... (${errors.length} errors)` : '');
    throw new WorkspaceError('invalid', `${where} does not follow corrections-manifest v1: ${shown}. Nothing was changed.`);
  }
  return m;
}

export function nowIso(): string {
  return new Date().toISOString();
}

/** Manifest paths of a patch's PNGs (defaults `patches/<id>.png`, `masks/<id>.png`). */
export function patchFiles(p: Pick<ManifestPatch, 'id' | 'image' | 'mask'>): { image: string; mask: string } {
  return { image: p.image ?? `patches/${p.id}.png`, mask: p.mask ?? `masks/${p.id}.png` };
}

/** A deterministic patch id from its level-0 box (same box -> same id across runs). */
export function patchId(box: readonly number[]): string {
  return `x${Math.round(box[0])}-y${Math.round(box[1])}-s${Math.round(box[2])}`;
}

/** Integer level-0 box as the schema wants it. */
export function intBox(box: readonly number[]): [number, number, number, number] {
  return [Math.round(box[0]), Math.round(box[1]), Math.round(box[2]), Math.round(box[3])];
}

/** Manifest entry of a correction; `old` keeps `created` (and unknown extra keys). */
export function patchEntry(c: Correction, time: string, old?: ManifestPatch): ManifestPatch {
  if (!ID_PATTERN.test(c.id)) {
    throw new WorkspaceError('usage', `patch id '${c.id}': use letters, digits, '_', '.', '-' (it names files)`);
  }
  return {
    ...(old ?? {}),
    id: c.id,
    box: intBox(c.box),
    score: Number.isFinite(c.score) ? c.score : 0,
    rank: Math.max(1, Math.round(c.rank)),
    status: c.status,
    created: old?.created ?? time,
    updated: time,
    level: c.level,
    downsample: c.downsample
  };
}

/** Top-level fields of a run (everything but patches/models). */
export function runHeader(
  run: SuggestionRun,
  modelPath: string
): Pick<Manifest, 'formatVersion' | 'createdBy' | 'slide' | 'model' | 'analysis' | 'classes'> {
  const model: Manifest['model'] = { path: modelPath, hash: run.model.hash };
  if (run.model.name) {
    model.name = run.model.name;
  }
  if (run.model.version) {
    model.version = run.model.version;
  }
  return {
    formatVersion: FORMAT_VERSION,
    createdBy: CREATED_BY,
    slide: { ...run.slide },
    model,
    analysis: { ...run.analysis },
    classes: run.classes.map(c => ({ name: c.name, color: [c.color[0], c.color[1], c.color[2]] }))
  };
}

/** Same class list (names and colours, in order)? Mask indices mean different things otherwise. */
export function sameClasses(a: readonly ModelClassInfo[], b: readonly ModelClassInfo[]): boolean {
  return a.length === b.length && a.every((c, i) => c.name === b[i].name && c.color.every((v, k) => v === b[i].color[k]));
}

/** Text of manifest.json as written (one-space indent like the Python writer). */
export function manifestText(m: Manifest): string {
  return JSON.stringify(m, null, 1) + '\n';
}
