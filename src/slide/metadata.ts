/**
 * Metadata parsing from TIFF text fields: Aperio ImageDescription, OME-XML,
 * TIFF resolution tags. Pure functions (no I/O).
 */

export interface AperioDescription {
  /** Key/values after the first line, e.g. MPP, AppMag, ScanScope ID. */
  properties: Record<string, string>;
  /** The first line after the 'Aperio ...' banner: e.g. '46920x33014 [0,100 46000x32914] (256x256) JPEG/RGB Q=30' or 'label 387x463'. */
  summary: string;
  /** Page kind as told by the description. */
  kind: 'image' | 'label' | 'macro' | 'thumbnail';
  mpp?: number;
}

/** Parse an Aperio SVS ImageDescription; undefined when the text is not Aperio's. */
export function parseAperioDescription(text: string | undefined): AperioDescription | undefined {
  if (!text || !/^Aperio/i.test(text.trimStart())) {
    return undefined;
  }
  const parts = text.split('|');
  const head = parts[0].split(/\r?\n/);
  const summary = (head[1] ?? '').trim();
  const properties: Record<string, string> = {};
  for (const part of parts.slice(1)) {
    const eq = part.indexOf('=');
    if (eq > 0) {
      properties[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
  }
  const lower = summary.toLowerCase();
  const kind = lower.startsWith('label') ? 'label' : lower.startsWith('macro') ? 'macro' : 'image';
  const mpp = positiveNumber(properties['MPP']);
  return { properties, summary, kind, mpp };
}

/** Micrometres per unit of the OME UnitsLength enumeration (the ones scanners use). */
const OME_LENGTH_UNITS_IN_UM: Record<string, number> = {
  Ym: 1e30,
  Zm: 1e27,
  Em: 1e24,
  Pm: 1e21,
  Tm: 1e18,
  Gm: 1e15,
  Mm: 1e12,
  km: 1e9,
  hm: 1e8,
  dam: 1e7,
  m: 1e6,
  dm: 1e5,
  cm: 1e4,
  mm: 1e3,
  µm: 1,
  μm: 1,
  um: 1,
  nm: 1e-3,
  pm: 1e-6,
  fm: 1e-9,
  Å: 1e-4,
  in: 25400,
  ft: 304800,
  mi: 1.609344e9,
  yd: 914400,
  pt: 25400 / 72
};

export interface OmeMetadata {
  /** Physical pixel size of the first image, micrometres. */
  mppX?: number;
  mppY?: number;
  /** Size of the first image. */
  sizeX?: number;
  sizeY?: number;
  /** Names of all Image elements, in order (e.g. ['detail', 'label', 'macro']). */
  imageNames: string[];
}

/** Read attributes of the first `<tag ...>` element found after `from`. */
function attributesOf(xml: string, tag: string, from = 0): Record<string, string> | undefined {
  const re = new RegExp(`<(?:\\w+:)?${tag}\\b([^>]*)>`, 'g');
  re.lastIndex = from;
  const m = re.exec(xml);
  if (!m) {
    return undefined;
  }
  const attrs: Record<string, string> = {};
  const attrRe = /([\w:]+)\s*=\s*("([^"]*)"|'([^']*)')/g;
  let a: RegExpExecArray | null;
  while ((a = attrRe.exec(m[1])) !== null) {
    attrs[a[1]] = a[3] ?? a[4] ?? '';
  }
  return attrs;
}

/** Convert an OME length to micrometres (default unit µm, as in the OME schema). */
export function omeLengthToMicrons(value: string | undefined, unit: string | undefined): number | undefined {
  const v = positiveNumber(value);
  if (v === undefined) {
    return undefined;
  }
  const factor = OME_LENGTH_UNITS_IN_UM[(unit ?? 'µm').trim()];
  return factor === undefined ? undefined : v * factor;
}

/** Parse the OME-XML of an OME-TIFF (ImageDescription of the first page); undefined when not OME. */
export function parseOmeXml(text: string | undefined): OmeMetadata | undefined {
  if (!text || !/<(\w+:)?OME\b/.test(text)) {
    return undefined;
  }
  const imageNames: string[] = [];
  const imageRe = /<(?:\w+:)?Image\b([^>]*)>/g;
  let m: RegExpExecArray | null;
  while ((m = imageRe.exec(text)) !== null) {
    const name = /\bName\s*=\s*"([^"]*)"/.exec(m[1])?.[1] ?? '';
    imageNames.push(name);
  }
  const pixels = attributesOf(text, 'Pixels');
  if (!pixels) {
    return { imageNames };
  }
  return {
    imageNames,
    mppX: omeLengthToMicrons(pixels['PhysicalSizeX'], pixels['PhysicalSizeXUnit']),
    mppY: omeLengthToMicrons(pixels['PhysicalSizeY'], pixels['PhysicalSizeYUnit']),
    sizeX: positiveNumber(pixels['SizeX']),
    sizeY: positiveNumber(pixels['SizeY'])
  };
}

/** TIFF ResolutionUnit values. */
export const RESOLUTION_UNIT_NONE = 1;
export const RESOLUTION_UNIT_INCH = 2;
export const RESOLUTION_UNIT_CENTIMETER = 3;

/**
 * Micrometres per pixel from XResolution (pixels per unit) and ResolutionUnit
 * (default inch, per the TIFF spec). Undefined when there is no physical unit
 * or the value is a placeholder (72 dpi / 1 pixel per unit are writer defaults).
 */
export function resolutionToMicrons(pixelsPerUnit: number | undefined, unit: number | undefined): number | undefined {
  if (pixelsPerUnit === undefined || !(pixelsPerUnit > 0) || !Number.isFinite(pixelsPerUnit)) {
    return undefined;
  }
  const u = unit ?? RESOLUTION_UNIT_INCH;
  let micronsPerUnit: number;
  if (u === RESOLUTION_UNIT_INCH) {
    micronsPerUnit = 25400;
  } else if (u === RESOLUTION_UNIT_CENTIMETER) {
    micronsPerUnit = 10000;
  } else {
    return undefined;
  }
  // 72 / 96 dpi and 1 px/unit are what writers put when they know nothing.
  if (u === RESOLUTION_UNIT_INCH && (pixelsPerUnit === 72 || pixelsPerUnit === 96 || pixelsPerUnit === 300)) {
    return undefined;
  }
  // 72 dpi expressed per centimetre.
  if (u === RESOLUTION_UNIT_CENTIMETER && Math.abs(pixelsPerUnit - 72 / 2.54) < 0.01) {
    return undefined;
  }
  if (pixelsPerUnit === 1) {
    return undefined;
  }
  return micronsPerUnit / pixelsPerUnit;
}

/** A TIFF RATIONAL as geotiff returns it (number, [num, den] or a typed array of pairs) to a number. */
export function rationalToNumber(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return value;
  }
  if (value && typeof value === 'object' && 'length' in value) {
    const arr = value as ArrayLike<number>;
    if (arr.length >= 2 && arr[1] !== 0) {
      return Number(arr[0]) / Number(arr[1]);
    }
    if (arr.length === 1) {
      return Number(arr[0]);
    }
  }
  return undefined;
}

function positiveNumber(text: string | undefined): number | undefined {
  if (text === undefined) {
    return undefined;
  }
  const v = Number.parseFloat(text);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/**
 * Whether a page of size w x h can be a reduced level of a w0 x h0 image: same
 * aspect ratio within rounding (levels are made by integer division, +-2 px).
 */
export function sameAspect(w0: number, h0: number, w: number, h: number): boolean {
  if (w <= 0 || h <= 0 || w0 <= 0 || h0 <= 0) {
    return false;
  }
  const expectedH = (h0 * w) / w0;
  return Math.abs(expectedH - h) <= Math.max(2, 0.01 * h);
}
