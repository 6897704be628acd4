/** Workspace (Contents API) paths: '/'-separated, relative to the server root, no leading '/'. */

export const FOLDER_SUFFIX = '.uga';
export const MANIFEST = 'manifest.json';
export const ANNOTATIONS = 'annotations.geojson';

/** `slides/X.svs` -> `slides/X.svs.uga`; a path already ending in `.uga` stays. */
export function correctionsFolder(slidePath: string): string {
  const p = normalize(slidePath);
  return p.endsWith(FOLDER_SUFFIX) ? p : p + FOLDER_SUFFIX;
}

export function normalize(path: string): string {
  return path
    .replace(/\\/g, '/')
    .replace(/^\/+/, '')
    .replace(/\/+$/, '')
    .replace(/\/{2,}/g, '/');
}

export function join(...parts: string[]): string {
  return normalize(parts.filter(p => p !== '').join('/'));
}

export function dirname(path: string): string {
  const p = normalize(path);
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

export function basename(path: string): string {
  const p = normalize(path);
  return p.slice(p.lastIndexOf('/') + 1);
}

/**
 * Why a manifest path is refused, or null when it is a relative POSIX path
 * inside the folder (same rule as the schema's `relpath` and Python's
 * `resolve_inside`; symlinks cannot be seen through the Contents API, the
 * server itself keeps every path inside its root).
 */
export function unsafeRelPath(rel: unknown): string | null {
  if (typeof rel !== 'string' || rel === '') {
    return 'empty path';
  }
  if (/^[/\\]/.test(rel) || /^[A-Za-z]:/.test(rel)) {
    return `absolute path '${rel}' is not allowed; paths are relative to the corrections folder`;
  }
  if (/(^|[/\\])\.\.([/\\]|$)/.test(rel)) {
    return `path '${rel}' leaves the corrections folder ('..' is not allowed)`;
  }
  return null;
}

/** POSIX relative path from folder `from` to `to` (both workspace paths). */
export function relative(from: string, to: string): string {
  const a = normalize(from).split('/').filter(Boolean);
  const b = normalize(to).split('/').filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) {
    i++;
  }
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/') || '.';
}
