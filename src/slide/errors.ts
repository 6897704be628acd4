import { SlideError, SlideErrorKind } from './types';

/** Create a SlideError (shorthand used throughout the slide stage). */
export function slideError(kind: SlideErrorKind, message: string, cause?: unknown): SlideError {
  return new SlideError(kind, message, cause);
}

function messageOf(e: unknown): string {
  if (e instanceof Error) {
    return e.message;
  }
  return typeof e === 'string' ? e : String(e);
}

function isAbort(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) {
    return false;
  }
  const name = (e as { name?: unknown }).name;
  return name === 'AbortError' || name === 'TimeoutError';
}

/**
 * Map anything thrown while opening or reading a slide to a SlideError with a
 * message a user can act on. SlideErrors pass through unchanged.
 */
export function toSlideError(e: unknown): SlideError {
  if (e instanceof SlideError) {
    return e;
  }
  if (isAbort(e)) {
    return new SlideError('aborted', 'Reading the slide was cancelled.', e);
  }
  const text = messageOf(e);
  // geotiff.js and the decoders throw plain Errors; recognise the common ones.
  if (/Invalid byte order value|Invalid magic number|Unsupported offset byte-size/i.test(text)) {
    return new SlideError('not-a-tiff', `The file is not a TIFF (${text}).`, e);
  }
  if (/Unknown compression method identifier:?\s*(\d+)?/i.test(text)) {
    const id = /(\d+)/.exec(text)?.[1];
    return new SlideError(
      'unsupported-compression',
      `The slide uses a compression this viewer cannot decode${id ? ` (TIFF compression ${id})` : ''}.`,
      e
    );
  }
  if (/old style JPEG/i.test(text)) {
    return new SlideError('unsupported-compression', 'Old-style JPEG (TIFF compression 6) is not supported.', e);
  }
  if (
    e instanceof RangeError ||
    /Offset is outside the bounds|out of bounds|beyond the end|not covered|Invalid typed array length/i.test(text)
  ) {
    return new SlideError('truncated', `The file is truncated or corrupt: ${text}.`, e);
  }
  if (/JPEG|marker|frame|huffman|codestream|decode|J2K|openjpeg/i.test(text)) {
    return new SlideError('decode', `A tile could not be decoded: ${text}.`, e);
  }
  if (e instanceof TypeError && /fetch|network|Failed|ECONN|socket/i.test(text)) {
    return new SlideError('network', `The request for the slide failed: ${text}.`, e);
  }
  return new SlideError('decode', `The slide could not be read: ${text}.`, e);
}
