import { IGNORE_LABEL } from '../../tokens';
import { emptyMaps, predictedClasses } from '../../uncertainty/maps';
import { suggestPatches } from '../../uncertainty/suggestions';
import { correctionFromSuggestion, correctionId } from '../correction';
import { validateCorrection } from '../model';

describe('correctionFromSuggestion', () => {
  it('pads a partial patch: mask ignore and image transparent outside the slide', () => {
    // 40 x 30 map, slide ends at x = 30; a 32-px patch is partial in both directions.
    const maps = emptyMaps(40, 30, 2, 20);
    for (let i = 0; i < 40 * 30; i++) {
      const fg = i % 40 >= 15 ? 0.9 : 0.1;
      maps.meanProb[i * 2] = 1 - fg;
      maps.meanProb[i * 2 + 1] = fg;
      maps.entropy[i] = 0.5;
    }
    const [s] = suggestPatches(maps, {
      strategy: 'entropy',
      patchSize: 32,
      bounds: { x: 0, y: 0, width: 30, height: 30 },
      origin: { x: 500, y: 600 },
      scale: 2,
      idPrefix: 'my slide.svs'
    });
    expect(s.partial).toBe(true);
    expect(s.valid).toEqual({ x: 0, y: 0, width: 30, height: 30 });
    const validImage = new Uint8ClampedArray(30 * 30 * 4).fill(200);
    const c = correctionFromSuggestion({
      suggestion: s,
      labels: predictedClasses(maps),
      mapWidth: 40,
      mapHeight: 30,
      validImage,
      classes: [
        { name: 'bg', color: [0, 0, 0] },
        { name: 'gland', color: [255, 0, 0] }
      ],
      level: 1,
      downsample: 2
    });
    validateCorrection(c);
    expect(c.id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/);
    expect(c.box).toEqual([500, 600, 64, 64]);
    expect(c.patchSize).toBe(32);
    expect(c.mask[5 * 32 + 5]).toBe(0);
    expect(c.mask[5 * 32 + 20]).toBe(1);
    expect(c.mask[5 * 32 + 30]).toBe(IGNORE_LABEL); // right of the slide edge
    expect(c.mask[31 * 32 + 5]).toBe(IGNORE_LABEL); // below the map
    expect(c.image[(5 * 32 + 5) * 4 + 3]).toBe(200);
    expect(c.image[(5 * 32 + 30) * 4 + 3]).toBe(0);
    expect(() =>
      correctionFromSuggestion({
        suggestion: s,
        labels: predictedClasses(maps),
        mapWidth: 40,
        mapHeight: 30,
        validImage: new Uint8ClampedArray(4),
        classes: [],
        level: 0,
        downsample: 1
      })
    ).toThrow(/30 x 30 slide part/);
  });

  it('ids keep to the manifest pattern', () => {
    expect(correctionId('my slide (1).svs-10-20')).toBe('my_slide__1_.svs-10-20');
    expect(correctionId('-x')).toBe('p-x');
    expect(correctionId('a'.repeat(300)).length).toBe(128);
  });
});
