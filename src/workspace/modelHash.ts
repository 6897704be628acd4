/**
 * The manifest's model hash: "sha256:" + hex sha256 of model.json's bytes
 * followed by every weight shard in weightsManifest order — the same bytes
 * in the same order as jupyterlab_uga.export.model_hash. WebCrypto has no
 * incremental digest, so the parts are concatenated (models here are a few
 * MB).
 */
import { WorkspaceError } from './errors';

/** `read(relPath)` returns a weight shard's bytes (paths as written in model.json). */
export async function modelHash(modelJson: Uint8Array, read: (path: string) => Promise<Uint8Array>): Promise<string> {
  let parsed: { weightsManifest?: { paths?: string[] }[] };
  try {
    parsed = JSON.parse(new TextDecoder().decode(modelJson));
  } catch (e) {
    throw new WorkspaceError('invalid', `model.json is not valid JSON (${(e as Error).message})`, e);
  }
  if (!Array.isArray(parsed.weightsManifest)) {
    throw new WorkspaceError('invalid', 'model.json has no weightsManifest: not a tfjs LayersModel');
  }
  const parts: Uint8Array[] = [modelJson];
  for (const group of parsed.weightsManifest) {
    for (const p of group.paths ?? []) {
      parts.push(await read(p));
    }
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return 'sha256:' + Array.from(digest, b => b.toString(16).padStart(2, '0')).join('');
}

/** Hash of a model served over HTTP (`url` of model.json; shards relative to it). */
export async function modelHashFromUrl(url: string, fetchFunc: typeof fetch = fetch): Promise<string> {
  const get = async (u: string) => {
    const r = await fetchFunc(u);
    if (!r.ok) {
      throw new WorkspaceError('unknown', `could not read ${u} for the model hash: ${r.status} ${r.statusText}`);
    }
    return new Uint8Array(await r.arrayBuffer());
  };
  const base = url.slice(0, url.lastIndexOf('/') + 1);
  return modelHash(await get(url), p => get(base + p));
}
