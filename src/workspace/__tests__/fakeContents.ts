/**
 * A filesystem-backed stand-in for JupyterLab's Contents.IManager that
 * behaves like jupyter_server's FileContentsManager where the store depends
 * on it: paths relative to a root, 404 for a missing path, rename refusing
 * an existing target (409) and hidden files (400), save writing in place,
 * last_modified = the file's mtime (microseconds), permission errors as 403.
 * `failWith` injects failures (a read-only folder when running as root, a
 * full disk, a lost connection).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Contents } from '@jupyterlab/services';
import type { ContentsLike } from '../CorrectionsStore';

export class FakeResponseError extends Error {
  readonly response: { status: number };
  constructor(status: number, message: string) {
    super(message);
    this.response = { status };
  }
}

export type Op = 'get' | 'save' | 'rename' | 'delete';

function iso(stat: fs.BigIntStats): string {
  const ns = stat.mtimeNs;
  const ms = Number(ns / 1000000n);
  const us = Number((ns / 1000n) % 1000n);
  return new Date(ms).toISOString().replace('Z', `${String(us).padStart(3, '0')}Z`);
}

export class FsContents implements ContentsLike {
  readonly calls: { op: Op; path: string; to?: string }[] = [];
  /** Return an error to throw for this call, or null to let it run. */
  failWith: ((op: Op, path: string) => Error | null) | null = null;

  constructor(readonly root: string) {}

  private os(p: string): string {
    const rel = p.replace(/^\/+/, '');
    const full = path.resolve(this.root, rel);
    if (full !== this.root && !full.startsWith(this.root + path.sep)) {
      throw new FakeResponseError(404, `${p} is outside the root`);
    }
    return full;
  }

  private check(op: Op, p: string): void {
    const e = this.failWith?.(op, p);
    if (e) {
      throw e;
    }
  }

  private wrap<T>(p: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err instanceof FakeResponseError) {
        throw err;
      }
      if (err.code === 'ENOENT') {
        throw new FakeResponseError(404, `No such file or directory: ${p}`);
      }
      if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS') {
        throw new FakeResponseError(403, `Permission denied: ${p}`);
      }
      throw new FakeResponseError(500, `Unexpected error while saving file: ${p} ${err.message}`);
    }
  }

  private model(p: string, content: boolean, format?: string | null): Contents.IModel {
    const full = this.os(p);
    const st = fs.statSync(full, { bigint: true });
    const name = path.basename(full);
    const base = {
      name,
      path: p.replace(/^\/+/, ''),
      created: iso(st),
      last_modified: iso(st),
      writable: true,
      mimetype: '',
      size: Number(st.size)
    };
    if (st.isDirectory()) {
      return {
        ...base,
        type: 'directory',
        format: content ? 'json' : null,
        content: content ? fs.readdirSync(full).map(n => this.model(path.posix.join(base.path, n), false)) : null
      } as Contents.IModel;
    }
    const fmt = format ?? 'text';
    const bytes = content ? fs.readFileSync(full) : null;
    return {
      ...base,
      type: 'file',
      format: content ? fmt : null,
      content: bytes ? (fmt === 'base64' ? bytes.toString('base64') : bytes.toString('utf8')) : null
    } as Contents.IModel;
  }

  async get(p: string, options: Contents.IFetchOptions = {}): Promise<Contents.IModel> {
    this.calls.push({ op: 'get', path: p });
    this.check('get', p);
    return this.wrap(p, () => this.model(p, options.content !== false, options.format as string | undefined));
  }

  async save(p: string, options: Partial<Contents.IModel> = {}): Promise<Contents.IModel> {
    this.calls.push({ op: 'save', path: p });
    this.check('save', p);
    return this.wrap(p, () => {
      const full = this.os(p);
      if (options.type === 'directory') {
        if (!fs.existsSync(full)) {
          fs.mkdirSync(full);
        }
      } else {
        const data =
          options.format === 'base64' ? Buffer.from(String(options.content), 'base64') : Buffer.from(String(options.content), 'utf8');
        fs.writeFileSync(full, data);
      }
      return this.model(p, false);
    });
  }

  async rename(from: string, to: string): Promise<Contents.IModel> {
    this.calls.push({ op: 'rename', path: from, to });
    this.check('rename', from);
    return this.wrap(from, () => {
      const a = this.os(from);
      const b = this.os(to);
      if ([from, to].some(x => x.split('/').some(part => part.startsWith('.')))) {
        throw new FakeResponseError(400, `Cannot rename file or directory ${from}`);
      }
      if (fs.existsSync(b)) {
        throw new FakeResponseError(409, `File already exists: ${to}`);
      }
      fs.renameSync(a, b);
      return this.model(to, false);
    });
  }

  async delete(p: string): Promise<void> {
    this.calls.push({ op: 'delete', path: p });
    this.check('delete', p);
    this.wrap(p, () => fs.rmSync(this.os(p), { recursive: true }));
  }
}
