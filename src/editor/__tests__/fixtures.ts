import { Correction } from '../../tokens';

/** A size x size patch of grey pixels whose mask is all `fill`. */
export function makeCorrection(size = 64, classes = 2, fill = 0): Correction {
  return {
    id: 'slide-1-100-200',
    rank: 1,
    score: 0.5,
    box: [100, 200, size * 2, size * 2],
    level: 0,
    downsample: 2,
    patchSize: size,
    classes: Array.from({ length: classes }, (_, i) => ({ name: `c${i}`, color: [i * 50, 100, 200 - i * 50] as [number, number, number] })),
    mask: new Uint8Array(size * size).fill(fill),
    image: new Uint8ClampedArray(size * size * 4).fill(128),
    status: 'suggested'
  };
}
