import { parseAperioDescription, parseOmeXml, rationalToNumber, resolutionToMicrons, sameAspect, omeLengthToMicrons } from '../metadata';
import { inspectJpeg, jpegIsYCbCr, blitSamplesToRgba } from '../colour';
import { codestreamHasMct } from '../jpeg2000';

const CMU_DESCRIPTION =
  'Aperio Image Library v10.0.50\r\n46920x33014 [0,100 46000x32914] (240x240) JPEG/RGB Q=30|AppMag = 20|StripeWidth = 2040|ScanScope ID = CPAPERIOCS|Filename = CMU-1|MPP = 0.4990|Left = 25.691574|OriginalWidth = 46920';

describe('Aperio description', () => {
  it('reads key/values, MPP and the page kind', () => {
    const d = parseAperioDescription(CMU_DESCRIPTION)!;
    expect(d.kind).toBe('image');
    expect(d.mpp).toBeCloseTo(0.499, 6);
    expect(d.properties['AppMag']).toBe('20');
    expect(d.properties['ScanScope ID']).toBe('CPAPERIOCS');
    expect(d.summary).toMatch(/^46920x33014/);
  });
  it('recognises label and macro pages and non-Aperio text', () => {
    expect(parseAperioDescription('Aperio Image Library v10.0.50\r\nlabel 387x463')!.kind).toBe('label');
    expect(parseAperioDescription('Aperio Image Library v10\nmacro 1280x431')!.kind).toBe('macro');
    expect(parseAperioDescription('ImageJ=1.52')).toBeUndefined();
    expect(parseAperioDescription(undefined)).toBeUndefined();
    expect(parseAperioDescription('Aperio Image Library\r\n10x10 |MPP = abc')!.mpp).toBeUndefined();
  });
});

describe('OME-XML', () => {
  const xml = (attrs: string) =>
    `<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0" Name="detail"><Pixels ID="Pixels:0" SizeX="1101" SizeY="900" ${attrs} Type="uint8"/></Image><Image ID="Image:1" Name="label"><Pixels SizeX="10" SizeY="10"/></Image></OME>`;
  it('reads physical sizes in micrometres by default', () => {
    const m = parseOmeXml(xml('PhysicalSizeX="0.25" PhysicalSizeY="0.5"'))!;
    expect(m.mppX).toBeCloseTo(0.25);
    expect(m.mppY).toBeCloseTo(0.5);
    expect(m.sizeX).toBe(1101);
    expect(m.imageNames).toEqual(['detail', 'label']);
  });
  it('converts units', () => {
    const m = parseOmeXml(xml('PhysicalSizeX="250" PhysicalSizeXUnit="nm" PhysicalSizeY="0.00025" PhysicalSizeYUnit="mm"'))!;
    expect(m.mppX).toBeCloseTo(0.25);
    expect(m.mppY).toBeCloseTo(0.25);
    expect(omeLengthToMicrons('1', 'cm')).toBe(10000);
    expect(omeLengthToMicrons('1', 'parsec')).toBeUndefined();
    expect(omeLengthToMicrons('-1', 'µm')).toBeUndefined();
  });
  it('ignores non-OME text and missing sizes', () => {
    expect(parseOmeXml('Aperio Image Library')).toBeUndefined();
    expect(parseOmeXml(xml(''))!.mppX).toBeUndefined();
  });
});

describe('TIFF resolution', () => {
  it('converts pixels per inch / centimetre to micrometres per pixel', () => {
    expect(resolutionToMicrons(40000, 3)).toBeCloseTo(0.25);
    expect(resolutionToMicrons(101600, 2)).toBeCloseTo(0.25);
    expect(resolutionToMicrons(101600, undefined)).toBeCloseTo(0.25); // default unit: inch
  });
  it('ignores placeholders and unitless values', () => {
    expect(resolutionToMicrons(72, 2)).toBeUndefined();
    expect(resolutionToMicrons(72 / 2.54, 3)).toBeUndefined();
    expect(resolutionToMicrons(40000, 1)).toBeUndefined();
    expect(resolutionToMicrons(0, 3)).toBeUndefined();
  });
  it('reads rationals in the shapes geotiff returns', () => {
    expect(rationalToNumber([44034000, 1000])).toBeCloseTo(44034);
    expect(rationalToNumber(new Uint32Array([10, 4]))).toBe(2.5);
    expect(rationalToNumber(7)).toBe(7);
    expect(rationalToNumber(undefined)).toBeUndefined();
  });
  it('tells pyramid levels from pages of another shape', () => {
    expect(sameAspect(46000, 32914, 11500, 8228)).toBe(true);
    expect(sameAspect(2220, 2967, 387, 463)).toBe(false); // CMU label
    expect(sameAspect(2220, 2967, 1280, 431)).toBe(false); // macro
  });
});

describe('JPEG colour decision', () => {
  const jfifTile = new Uint8Array([
    0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 2, 0, 0, 1, 0, 1, 0, 0, 0xff, 0xc0, 0, 17, 8, 0, 16, 0, 16, 3, 1, 0x11, 0,
    2, 0x11, 1, 3, 0x11, 1, 0xff, 0xda
  ]);
  const aperioTile = new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0, 240, 0, 240, 3, 0, 0x11, 0, 1, 0x11, 0, 2, 0x11, 0, 0xff, 0xda]);
  const rgbIds = new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0, 8, 0, 8, 3, 0x52, 0x11, 0, 0x47, 0x11, 0, 0x42, 0x11, 0, 0xff, 0xda]);
  const adobe = (t: number) =>
    new Uint8Array([0xff, 0xd8, 0xff, 0xee, 0, 14, 0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, t, 0xff, 0xda]);
  it('parses markers', () => {
    expect(inspectJpeg(jfifTile)).toEqual({ jfif: true, componentIds: [1, 2, 3] });
    expect(inspectJpeg(aperioTile)).toEqual({ jfif: false, componentIds: [0, 1, 2] });
    expect(inspectJpeg(adobe(1)).adobeTransform).toBe(1);
  });
  it('follows libjpeg/tifffile: Photometric YCbCr, Adobe flag, RGB ids, JFIF, else Photometric', () => {
    expect(jpegIsYCbCr(6, undefined, inspectJpeg(aperioTile))).toBe(true);
    expect(jpegIsYCbCr(2, undefined, inspectJpeg(aperioTile))).toBe(false); // Aperio RGB
    expect(jpegIsYCbCr(2, undefined, inspectJpeg(jfifTile))).toBe(true); // OME-TIFF JFIF tiles
    expect(jpegIsYCbCr(2, undefined, inspectJpeg(adobe(1)))).toBe(true);
    expect(jpegIsYCbCr(2, inspectJpeg(adobe(0)), inspectJpeg(jfifTile))).toBe(false);
    expect(jpegIsYCbCr(undefined, undefined, inspectJpeg(rgbIds))).toBe(false);
  });
  it('converts YCbCr to RGB (JFIF equations) and greys / 16-bit / alpha to RGBA', () => {
    const out = new Uint8ClampedArray(4 * 3);
    // white, pure red (Y=76, Cb=85, Cr=255), mid grey
    blitSamplesToRgba(
      [255, 128, 128, 76, 85, 255, 128, 128, 128],
      3,
      { samplesPerPixel: 3, bitsPerSample: 8, photometric: 6, ycbcr: true },
      0,
      0,
      3,
      1,
      out,
      3,
      0,
      0
    );
    expect(Array.from(out.slice(0, 4))).toEqual([255, 255, 255, 255]);
    expect(out[4]).toBeGreaterThan(250);
    expect(out[5]).toBeLessThan(5);
    expect(out[6]).toBeLessThan(5);
    expect(Array.from(out.slice(8, 12))).toEqual([128, 128, 128, 255]);
    const grey = new Uint8ClampedArray(8);
    blitSamplesToRgba(
      new Uint16Array([0xff00, 0x1000]),
      2,
      { samplesPerPixel: 1, bitsPerSample: 16, photometric: 0, ycbcr: false },
      0,
      0,
      2,
      1,
      grey,
      2,
      0,
      0
    );
    expect(Array.from(grey)).toEqual([0, 0, 0, 255, 239, 239, 239, 255]);
    const rgba = new Uint8ClampedArray(4);
    blitSamplesToRgba(
      [1, 2, 3, 4],
      1,
      { samplesPerPixel: 4, bitsPerSample: 8, photometric: 2, alphaSample: 3, ycbcr: false },
      0,
      0,
      1,
      1,
      rgba,
      1,
      0,
      0
    );
    expect(Array.from(rgba)).toEqual([1, 2, 3, 4]);
  });
  it('reads the multi-component-transform flag of a J2K codestream', () => {
    const cod = (mct: number) =>
      new Uint8Array([0xff, 0x4f, 0xff, 0x51, 0, 4, 0, 0, 0xff, 0x52, 0, 12, 0, 0, 0, 1, mct, 5, 4, 4, 0, 0, 0, 0]);
    expect(codestreamHasMct(cod(1))).toBe(true);
    expect(codestreamHasMct(cod(0))).toBe(false);
    expect(codestreamHasMct(new Uint8Array([0, 0, 0, 12]))).toBeUndefined();
  });
});
