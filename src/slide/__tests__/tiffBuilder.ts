/**
 * Hand-assembled little-endian classic TIFFs for tests: tiled or stripped,
 * uncompressed, any tags (also wrong ones), SubIFD pyramids, page chains.
 */

export interface PageSpec {
  width: number;
  height: number;
  /** Tile size; omitted = one strip per `rowsPerStrip` rows (default all). */
  tile?: [number, number];
  rowsPerStrip?: number;
  samples?: number;
  bits?: 8 | 16;
  photometric?: number;
  compression?: number;
  description?: string;
  /** XResolution as [numerator, denominator] pixels per unit, with ResolutionUnit. */
  resolution?: { x: [number, number]; y: [number, number]; unit: number };
  /** Sample values of pixel (x, y). */
  pixel?: (x: number, y: number) => number[];
  subIfds?: PageSpec[];
  /** Declared ImageWidth/ImageLength if different from the pixels written (corrupt files). */
  declaredWidth?: number;
  declaredHeight?: number;
  extraSamples?: number[];
}

type Entry = { tag: number; type: number; values: number[] | string };

const TYPE_SIZE: Record<number, number> = { 2: 1, 3: 2, 4: 4, 5: 8 };

class Bytes {
  buf = new Uint8Array(1 << 16);
  len = 0;
  private ensure(n: number): void {
    if (this.len + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
  }
  u16(v: number): void {
    this.u8(v);
    this.u8(v >> 8);
  }
  u32(v: number): void {
    this.u16(v & 0xffff);
    this.u16((v >>> 16) & 0xffff);
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  align(): void {
    if (this.len % 2) {
      this.u8(0);
    }
  }
  set32(at: number, v: number): void {
    this.buf[at] = v & 0xff;
    this.buf[at + 1] = (v >> 8) & 0xff;
    this.buf[at + 2] = (v >> 16) & 0xff;
    this.buf[at + 3] = (v >>> 24) & 0xff;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function blockBytes(p: PageSpec, x0: number, y0: number, w: number, h: number): Uint8Array {
  const spp = p.samples ?? 3;
  const bps = (p.bits ?? 8) / 8;
  const out = new Uint8Array(w * h * spp * bps);
  const px = p.pixel ?? (() => new Array(spp).fill(0));
  let o = 0;
  for (let y = y0; y < y0 + h; y++) {
    for (let x = x0; x < x0 + w; x++) {
      const v = x < p.width && y < p.height ? px(x, y) : new Array(spp).fill(0);
      for (let s = 0; s < spp; s++) {
        if (bps === 2) {
          out[o++] = v[s] & 0xff;
          out[o++] = (v[s] >> 8) & 0xff;
        } else {
          out[o++] = v[s];
        }
      }
    }
  }
  return out;
}

function writePage(b: Bytes, p: PageSpec, subIfdOffsets: number[]): { ifdOffset: number; nextPointerAt: number } {
  const offsets: number[] = [];
  const counts: number[] = [];
  const tiled = !!p.tile;
  if (tiled) {
    const [tw, th] = p.tile!;
    for (let ty = 0; ty < p.height; ty += th) {
      for (let tx = 0; tx < p.width; tx += tw) {
        const data = blockBytes(p, tx, ty, tw, th);
        b.align();
        offsets.push(b.len);
        counts.push(data.length);
        b.bytes(data);
      }
    }
  } else {
    const rps = p.rowsPerStrip ?? p.height;
    for (let y = 0; y < p.height; y += rps) {
      const data = blockBytes(p, 0, y, p.width, Math.min(rps, p.height - y));
      b.align();
      offsets.push(b.len);
      counts.push(data.length);
      b.bytes(data);
    }
  }
  const spp = p.samples ?? 3;
  const entries: Entry[] = [
    { tag: 256, type: 4, values: [p.declaredWidth ?? p.width] },
    { tag: 257, type: 4, values: [p.declaredHeight ?? p.height] },
    { tag: 258, type: 3, values: new Array(spp).fill(p.bits ?? 8) },
    { tag: 259, type: 3, values: [p.compression ?? 1] },
    { tag: 262, type: 3, values: [p.photometric ?? (spp >= 3 ? 2 : 1)] },
    { tag: 277, type: 3, values: [spp] },
    { tag: 284, type: 3, values: [1] }
  ];
  if (p.description !== undefined) {
    entries.push({ tag: 270, type: 2, values: p.description });
  }
  if (tiled) {
    entries.push({ tag: 322, type: 3, values: [p.tile![0]] }, { tag: 323, type: 3, values: [p.tile![1]] });
    entries.push({ tag: 324, type: 4, values: offsets }, { tag: 325, type: 4, values: counts });
  } else {
    entries.push({ tag: 273, type: 4, values: offsets }, { tag: 279, type: 4, values: counts });
    entries.push({ tag: 278, type: 4, values: [p.rowsPerStrip ?? p.height] });
  }
  if (p.resolution) {
    entries.push({ tag: 282, type: 5, values: p.resolution.x }, { tag: 283, type: 5, values: p.resolution.y });
    entries.push({ tag: 296, type: 3, values: [p.resolution.unit] });
  }
  if (subIfdOffsets.length) {
    entries.push({ tag: 330, type: 4, values: subIfdOffsets });
  }
  if (p.extraSamples) {
    entries.push({ tag: 338, type: 3, values: p.extraSamples });
  }
  entries.sort((a, c) => a.tag - c.tag);
  // Out-of-line values first, then the IFD.
  const valueAt = new Map<Entry, number>();
  for (const e of entries) {
    const bytes = encode(e);
    if (bytes.length > 4) {
      b.align();
      valueAt.set(e, b.len);
      b.bytes(bytes);
    }
  }
  b.align();
  const ifdOffset = b.len;
  b.u16(entries.length);
  for (const e of entries) {
    const bytes = encode(e);
    b.u16(e.tag);
    b.u16(e.type);
    b.u32(typeof e.values === 'string' ? bytes.length : e.type === 5 ? e.values.length / 2 : e.values.length);
    if (bytes.length > 4) {
      b.u32(valueAt.get(e)!);
    } else {
      const pad = new Uint8Array(4);
      pad.set(bytes);
      b.bytes(pad);
    }
  }
  const nextPointerAt = b.len;
  b.u32(0);
  return { ifdOffset, nextPointerAt };
}

function encode(e: Entry): Uint8Array {
  if (typeof e.values === 'string') {
    return new Uint8Array([...new TextEncoder().encode(e.values), 0]);
  }
  const size = TYPE_SIZE[e.type];
  const n = e.type === 5 ? e.values.length / 2 : e.values.length;
  const out = new Uint8Array(n * size);
  const dv = new DataView(out.buffer);
  e.values.forEach((v, i) => {
    if (e.type === 3) {
      dv.setUint16(i * 2, v, true);
    } else if (e.type === 4 || e.type === 5) {
      dv.setUint32(i * 4, v, true);
    } else {
      out[i] = v;
    }
  });
  return out;
}

/** Build a TIFF whose IFD chain holds `pages` in order. */
export function buildTiff(pages: PageSpec[]): Uint8Array {
  const b = new Bytes();
  b.u8(0x49);
  b.u8(0x49);
  b.u16(42);
  b.u32(0);
  let prevNext = 4;
  for (const p of pages) {
    const subOffsets = (p.subIfds ?? []).map(sp => writePage(b, sp, []).ifdOffset);
    const { ifdOffset, nextPointerAt } = writePage(b, p, subOffsets);
    b.set32(prevNext, ifdOffset);
    prevNext = nextPointerAt;
  }
  return b.result();
}

/** Simple recognisable pattern: R = x, G = y, B = 200 (mod 256). */
export const gradient = (x: number, y: number): number[] => [x & 0xff, y & 0xff, 200];
