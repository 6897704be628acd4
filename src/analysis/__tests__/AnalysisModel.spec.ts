// The analysis model without a browser: a synthetic slide (left half glass,
// right half tissue), a stand-in engine whose uncertainty is highest on the
// glass, and a counting engine service.
import { AnalysisModel, MAX_TILES } from '../AnalysisModel';
import { readSettings } from '../../settings';
import type { EngineRequest, IEngineLease, IEngineService, IUncertaintyEngine } from '../../tokens';
import type { SlideSource } from '../../slide/types';
import type { UncertaintyMaps } from '../../uncertainty/maps';

const W = 512;
const H = 256;
const P = 64;

function slide(): SlideSource {
  const info = {
    format: 'test',
    width: W,
    height: H,
    mppX: 1,
    mppY: 1,
    properties: {},
    levels: [{ index: 0, width: W, height: H, tileWidth: 256, tileHeight: 256, downsampleX: 1, downsampleY: 1 }]
  };
  return {
    info,
    async readRegion(r) {
      const data = new Uint8ClampedArray(r.width * r.height * 4);
      for (let y = 0; y < r.height; y++) {
        for (let x = 0; x < r.width; x++) {
          const gx = r.x + x;
          const i = (y * r.width + x) * 4;
          // Glass is white; tissue is saturated pink with a little texture.
          const tissue = gx >= W / 2;
          data[i] = tissue ? 200 : 245;
          data[i + 1] = tissue ? 60 + ((gx * 7 + y * 3) % 40) : 245;
          data[i + 2] = tissue ? 150 : 245;
          data[i + 3] = 255;
        }
      }
      return { width: r.width, height: r.height, data };
    },
    readTile: async () => {
      throw new Error('not used');
    },
    bytesRead: 0,
    dispose() {}
  } as unknown as SlideSource;
}

/** Uncertainty 0.9 on glass pixels and a gradient over tissue: a ranking that ignored tissue would pick glass. */
function fakeEngine(runs: { n: number }): IUncertaintyEngine {
  return {
    backend: 'cpu',
    samples: 4,
    model: {
      metadata: {
        formatVersion: 1,
        name: 'fake',
        version: '1',
        classes: [
          { name: 'Background', color: [0, 0, 0] },
          { name: 'Gland', color: [200, 0, 0] }
        ],
        foregroundClass: 1,
        mpp: 1,
        patchSize: P,
        normalization: { scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
        output: 'softmax'
      },
      inputShape: [P, P, 3],
      hasDropout: true,
      classes: 2
    },
    async run(patches, options) {
      runs.n += patches.length;
      options?.signal?.throwIfAborted();
      return patches.map(p => {
        const n = P * P;
        const entropy = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const white = p.data[i * 4] > 240 && p.data[i * 4 + 1] > 240;
          entropy[i] = white ? 0.9 : 0.1 + (p.data[i * 4 + 1] - 60) / 100;
        }
        const meanProb = new Float32Array(n * 2).map((_, k) => (k % 2 ? 0.6 : 0.4));
        const maps: UncertaintyMaps = {
          width: P,
          height: P,
          classes: 2,
          meanProb,
          entropy,
          mutualInformation: new Float32Array(n).fill(0.01),
          std: new Float32Array(n * 2).fill(0.05),
          samples: 4
        };
        return maps;
      });
    },
    dispose() {}
  };
}

function service(runs: { n: number }) {
  const leases = { acquired: 0, released: 0 };
  const s: IEngineService = {
    async acquire(request: EngineRequest): Promise<IEngineLease> {
      leases.acquired++;
      return {
        engine: fakeEngine(runs),
        backend: 'cpu',
        backendReason: 'test',
        modelUrl: request.modelUrl,
        release: () => leases.released++
      };
    }
  };
  return { s, leases };
}

function model(settings: Record<string, unknown> = {}) {
  const runs = { n: 0 };
  const { s, leases } = service(runs);
  const messages: string[] = [];
  const session = {
    path: 'dir/test slide.svs',
    source: slide(),
    viewer: null,
    settings: readSettings({ patchSize: 64, suggestions: 4, tileCacheMB: 64, ...settings }),
    fileUrl: () => '',
    serverFetch: fetch,
    showMessage: (text: string) => messages.push(text)
  };
  return { m: new AnalysisModel({ session, engines: s }), leases, runs, messages };
}

describe('AnalysisModel', () => {
  it('analyses the region, keeps heatmap and suggestions on tissue, and releases the engine', async () => {
    const { m, leases, runs } = model();
    const states: string[] = [];
    m.stateChanged.connect((_, s) => states.push(s));
    let tiles = 0;
    m.tileAnalyzed.connect(() => tiles++);
    await m.analyze({ x: 0, y: 0, width: W, height: H });
    expect(states).toEqual(['running', 'done']);
    expect(leases).toEqual({ acquired: 1, released: 1 });
    const r = m.result!;
    expect(tiles).toBe(runs.n);
    // The glass half is not tissue in the mask the UI uses...
    const { width } = r.region.maps;
    const leftTissue = Array.from({ length: width / 2 }, (_, x) => r.onTissue[10 * width + x]).reduce((a, b) => a + b, 0);
    const rightTissue = Array.from({ length: width / 2 }, (_, x) => r.onTissue[10 * width + width / 2 + x]).reduce((a, b) => a + b, 0);
    expect(leftTissue).toBe(0);
    expect(rightTissue).toBeGreaterThan(width / 2 - 8);
    // ...so no suggestion lands on the (more uncertain) glass.
    expect(r.suggestions.length).toBeGreaterThan(0);
    for (const s of r.suggestions) {
      expect(s.x).toBeGreaterThanOrEqual(W / 2 - P / 2);
    }
    expect(r.suggestions.map(s => s.rank)).toEqual(r.suggestions.map((_, i) => i + 1));
    // Ids are valid manifest ids (no space from the slide name).
    for (const s of r.suggestions) {
      expect(s.id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/);
    }
    expect(r.summary).toMatchObject({ backend: 'cpu', samples: 4, hasDropout: true, partial: false });
  });

  it('refuses a region over the tile cap before reading any pixel', async () => {
    const { m, leases, runs, messages } = model();
    const side = Math.ceil(Math.sqrt(MAX_TILES + 1)) * P + P;
    await m.analyze({ x: 0, y: 0, width: side, height: side });
    expect(m.state).toBe('error');
    expect(runs.n).toBe(0);
    expect(messages.join(' ')).toMatch(/zoom in to at most 2048/);
    expect(leases.released).toBe(leases.acquired);
  });

  it('cancelled before any tile: state cancelled, nothing kept, the engine released', async () => {
    const { m, leases } = model();
    const run = m.analyze({ x: 0, y: 0, width: W, height: H });
    m.cancel();
    await run;
    expect(m.state).toBe('cancelled');
    expect(m.result).toBeNull();
    expect(m.message?.text).toBe('Analysis cancelled.');
    expect(leases.released).toBe(1);
    // A second run after the cancel works.
    await m.analyze({ x: W / 2, y: 0, width: W / 2, height: H });
    expect(m.state).toBe('done');
  });

  it('cancelled half-way: suggestions from the tiles analysed, and it says so', async () => {
    const { m, leases, runs } = model();
    let seen = 0;
    m.tileAnalyzed.connect(() => {
      if (++seen === 2) {
        m.cancel();
      }
    });
    await m.analyze({ x: 0, y: 0, width: W, height: H });
    expect(m.state).toBe('cancelled');
    const r = m.result!;
    expect(r.summary.partial).toBe(true);
    expect(r.region.tiles.filter(t => t.analyzed).length).toBe(2);
    expect(runs.n).toBe(2);
    expect(m.message?.text).toMatch(/cancelled: the heatmap and suggestions cover the 2 of \d+ tissue tiles/);
    for (const s of r.suggestions) {
      // Only where analysed tiles are.
      const inside = r.region.tiles.some(t => t.analyzed && s.x >= t.rect.x - P && s.x < t.rect.x + t.rect.width);
      expect(inside).toBe(true);
    }
    expect(leases.released).toBe(1);
  });

  it('says when the slide has no pixel size', async () => {
    const { m, messages } = model();
    (m as unknown as { _session: { source: SlideSource } })._session.source.info.mppX = undefined;
    await m.analyze({ x: 0, y: 0, width: 128, height: 128 });
    expect(m.state).toBe('done');
    expect(m.result!.summary.notes.join(' ')).toMatch(/no pixel size/);
    expect(messages.join(' ')).toMatch(/level-0 pixels/);
  });
});
