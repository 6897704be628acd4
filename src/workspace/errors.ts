/**
 * Errors of the corrections workspace. `message` is written for the person
 * using the panel (what happened, what to do); `cause` keeps the original.
 */
export type WorkspaceErrorKind =
  /** manifest.json is from a newer jupyterlab-uga (formatVersion too high). */
  | 'newer-format'
  /** manifest.json (or a PNG it names) does not follow the format. */
  | 'invalid'
  /** A path in the manifest leaves the corrections folder. */
  | 'unsafe-path'
  /** The server refused the write: read-only folder, permissions. */
  | 'read-only'
  /** The disk is full. */
  | 'disk-full'
  /** No answer from the server (network, server stopped). */
  | 'offline'
  /** manifest.json changed outside the panel and the user cancelled (or nobody was asked). */
  | 'conflict'
  /** A request the store cannot fulfil (unknown patch, mismatching run). */
  | 'usage'
  | 'unknown';

export class WorkspaceError extends Error {
  readonly kind: WorkspaceErrorKind;
  readonly cause?: unknown;
  constructor(kind: WorkspaceErrorKind, message: string, cause?: unknown) {
    super(message);
    this.name = 'WorkspaceError';
    this.kind = kind;
    this.cause = cause;
  }
}

/** HTTP status of a ServerConnection.ResponseError (or a fake's equivalent), if any. */
export function httpStatus(err: unknown): number | null {
  const r = (err as { response?: { status?: unknown } } | null)?.response;
  return r && typeof r.status === 'number' ? r.status : null;
}

function rawMessage(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}

/**
 * Turn a failed Contents API call into a WorkspaceError a user can act on.
 * `what` names the file or folder, e.g. "X.svs.uga/masks/p1.png".
 */
export function saveFailure(err: unknown, what: string, verb: 'save' | 'read' = 'save'): WorkspaceError {
  if (err instanceof WorkspaceError) {
    return err;
  }
  const status = httpStatus(err);
  const msg = rawMessage(err);
  if (/no space left|disk quota|ENOSPC|EDQUOT/i.test(msg) || status === 507) {
    return new WorkspaceError('disk-full', `Could not ${verb} ${what}: the disk is full. Free some space, then Retry.`, err);
  }
  if (status === 403 || /permission denied|read-only|EACCES|EROFS|EPERM/i.test(msg)) {
    return new WorkspaceError(
      'read-only',
      `Could not ${verb} ${what}: the folder is read-only (permission denied). Make it writable, then Retry.`,
      err
    );
  }
  if (status === null && (err instanceof TypeError || /network|failed to fetch|ECONNREFUSED|ECONNRESET|socket/i.test(msg))) {
    return new WorkspaceError(
      'offline',
      `Could not ${verb} ${what}: no connection to the Jupyter server. Your work is kept in the panel; Retry when the server is back.`,
      err
    );
  }
  return new WorkspaceError('unknown', `Could not ${verb} ${what}: ${status ? `server answered ${status}: ` : ''}${msg}`, err);
}
