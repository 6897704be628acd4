import { MomentAccumulator, entropyNats, hasNonFinite, mapsFromMoments, mapsFromSamples, predictedClasses } from '../maps';

const LN2 = Math.log(2);

describe('uncertainty maps', () => {
  it('entropy in nats treats 0 log 0 as 0', () => {
    expect(entropyNats([1, 0])).toBe(0);
    expect(entropyNats([0.5, 0.5])).toBeCloseTo(LN2, 12);
    expect(entropyNats([0.2, 0.3, 0.5])).toBeCloseTo(-(0.2 * Math.log(0.2) + 0.3 * Math.log(0.3) + 0.5 * Math.log(0.5)), 12);
  });

  // Three pixels (1 x 3), two classes, two samples, values worked out by hand:
  //  px0: [1,0] and [0,1]     -> mean .5/.5, H = 1, mean H_t = 0 -> MI = 1, std = .5
  //  px1: [.5,.5] twice       -> H = 1, MI = 0, std = 0
  //  px2: [.9,.1] and [.7,.3] -> mean .8/.2,
  //       H(.8,.2) = 0.500402 nats, H(.9,.1) = 0.325083, H(.7,.3) = 0.610864,
  //       MI = (0.500402 - 0.467973) / ln 2 = 0.046787, std = 0.1
  const s1 = [1, 0, 0.5, 0.5, 0.9, 0.1];
  const s2 = [0, 1, 0.5, 0.5, 0.7, 0.3];

  it('matches hand-computed mean, entropy, mutual information and std', () => {
    const m = mapsFromSamples([s1, s2], 3, 1, 2);
    expect(m.samples).toBe(2);
    expect(Array.from(m.meanProb)).toEqual([0.5, 0.5, 0.5, 0.5, 0.8, 0.2].map(v => expect.closeTo(v, 6)));
    expect(m.entropy[0]).toBeCloseTo(1, 6);
    expect(m.entropy[1]).toBeCloseTo(1, 6);
    expect(m.entropy[2]).toBeCloseTo(0.500402 / LN2, 5);
    expect(m.mutualInformation[0]).toBeCloseTo(1, 6);
    expect(m.mutualInformation[1]).toBeCloseTo(0, 6);
    expect(m.mutualInformation[2]).toBeCloseTo(0.046787, 5);
    expect(Array.from(m.std)).toEqual([0.5, 0.5, 0, 0, 0.1, 0.1].map(v => expect.closeTo(v, 5)));
  });

  it('normalises by log C for C = 3 and gives 0 for C = 1', () => {
    const u = 1 / 3;
    const three = mapsFromSamples([[u, u, u]], 1, 1, 3);
    expect(three.entropy[0]).toBeCloseTo(1, 6);
    const one = mapsFromSamples([[1], [1]], 1, 1, 1);
    expect(one.entropy[0]).toBe(0);
    expect(one.mutualInformation[0]).toBe(0);
  });

  it('a single sample has MI 0 and std 0 exactly', () => {
    const m = mapsFromSamples([s1], 3, 1, 2);
    expect(Array.from(m.mutualInformation)).toEqual([0, 0, 0]);
    expect(Array.from(m.std)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(m.entropy[2]).toBeCloseTo(0.325083 / LN2, 5);
  });

  it('the accumulator and explicit moments agree', () => {
    const acc = new MomentAccumulator(3, 1, 2);
    acc.add(s1);
    acc.add(s2);
    const moments = acc.moments();
    expect(moments.meanSquareProb[4]).toBeCloseTo((0.81 + 0.49) / 2, 6);
    expect(moments.meanSampleEntropy[2]).toBeCloseTo((0.325083 + 0.610864) / 2, 5);
    const m = mapsFromMoments(moments);
    expect(m.mutualInformation[2]).toBeCloseTo(0.046787, 5);
    expect(() => acc.add([1, 0])).toThrow(/too short/);
    expect(() => new MomentAccumulator(1, 1, 2).moments()).toThrow(/no samples/);
  });

  it('MI never goes below 0 or above 1 from rounding', () => {
    const m = mapsFromMoments({
      width: 1,
      height: 1,
      classes: 2,
      meanProb: new Float32Array([0.5, 0.5]),
      meanSquareProb: new Float32Array([0.25, 0.25]),
      meanSampleEntropy: new Float32Array([LN2 + 1e-6]),
      samples: 4
    });
    expect(m.mutualInformation[0]).toBe(0);
    expect(() =>
      mapsFromMoments({
        width: 2,
        height: 1,
        classes: 2,
        meanProb: new Float32Array(2),
        meanSquareProb: new Float32Array(2),
        meanSampleEntropy: new Float32Array(2),
        samples: 1
      })
    ).toThrow(/expected 4/);
  });

  it('argmax classes and non-finite detection', () => {
    const m = mapsFromSamples([s1, s2], 3, 1, 2);
    expect(Array.from(predictedClasses(m))).toEqual([0, 0, 0]);
    expect(hasNonFinite(m)).toBe(false);
    const bad = mapsFromSamples([[NaN, 0.5]], 1, 1, 2);
    expect(hasNonFinite(bad)).toBe(true);
  });
});
