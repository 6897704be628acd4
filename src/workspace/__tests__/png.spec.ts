import { decodePng, encodeGreyPng, encodeRgbPng, fromBase64, toBase64, toMask, toRgba } from '../png';
import { blobMask, describePython, image, runPython } from './helpers';

describe('PNG codec (fast-png)', () => {
  it('RGBA -> RGB PNG -> RGBA keeps the colours and makes alpha opaque', () => {
    const px = image(17, 3);
    px[3] = 10; // alpha is dropped
    const dec = decodePng(encodeRgbPng(px, 17, 17), 'x.png');
    expect([dec.width, dec.height, dec.channels]).toEqual([17, 17, 3]);
    const back = toRgba(dec, 'x.png');
    const want = new Uint8ClampedArray(px);
    for (let i = 3; i < want.length; i += 4) {
      want[i] = 255;
    }
    expect(Array.from(back)).toEqual(Array.from(want));
  });

  it('masks are 8-bit single channel and round-trip exactly', () => {
    const m = blobMask(19, 2);
    const dec = decodePng(encodeGreyPng(m, 19, 19), 'm.png');
    expect([dec.channels, dec.palette]).toEqual([1, false]);
    expect(Array.from(toMask(dec, 'm.png'))).toEqual(Array.from(m));
    expect(() => toMask(decodePng(encodeRgbPng(image(4, 1), 4, 4), 'rgb.png'), 'rgb.png')).toThrow(/single-channel/);
  });

  it('refuses wrong sizes and non-PNG bytes with a message', () => {
    expect(() => encodeGreyPng(new Uint8Array(5), 2, 2)).toThrow(/expected 4/);
    expect(() => decodePng(new Uint8Array([1, 2, 3]), 'bad.png')).toThrow(/bad.png is not a readable PNG/);
  });

  it('base64 round trip, larger than one chunk', () => {
    const b = new Uint8Array(100000).map((_, i) => (i * 7919) & 255);
    expect(Array.from(fromBase64(toBase64(b)))).toEqual(Array.from(b));
    expect(toBase64(b)).toBe(Buffer.from(b).toString('base64'));
  });
});

describePython('Pillow reads what fast-png writes', () => {
  it('mode L masks and mode RGB patches with the same values', () => {
    const m = blobMask(23, 5);
    const px = image(23, 9);
    const out = runPython(
      `
import sys, json, io, base64, numpy as np
from PIL import Image
d = json.load(sys.stdin)
ms = Image.open(io.BytesIO(base64.b64decode(d["mask"]))); im = Image.open(io.BytesIO(base64.b64decode(d["image"])))
print(json.dumps({"mask_mode": ms.mode, "image_mode": im.mode, "mask": np.asarray(ms).ravel().tolist(), "image": np.asarray(im).ravel().tolist()}))
`.trim(),
      [],
      JSON.stringify({ mask: toBase64(encodeGreyPng(m, 23, 23)), image: toBase64(encodeRgbPng(px, 23, 23)) })
    );
    expect([out.mask_mode, out.image_mode]).toEqual(['L', 'RGB']);
    expect(out.mask).toEqual(Array.from(m));
    expect(out.image).toEqual(Array.from(px).filter((_, i) => i % 4 !== 3));
  });
});
