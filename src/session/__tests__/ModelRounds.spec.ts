// ModelRounds against an in-memory Contents API, a stand-in engine service
// and a session whose analysis results are made by hand.
import { Signal } from '@lumino/signaling';
import { encode } from 'fast-png';
import { compareVersions, ModelRounds, versionOfPath } from '../ModelRounds';
import { readSettings } from '../../settings';
import type { AnalysisResult, EngineRequest, IEngineLease, IEngineService, ISlideSettings } from '../../tokens';

const FOLDER = 'slides/s.tif.uga';
const W = 8;
const H = 4;

class FakeContents {
  files = new Map<string, { type: 'file' | 'directory'; last_modified: string }>();
  put(path: string, type: 'file' | 'directory' = 'file', stamp = '1') {
    this.files.set(path, { type, last_modified: stamp });
  }
  async get(path: string, options?: { content?: boolean }) {
    const f = this.files.get(path);
    if (!f) {
      throw Object.assign(new Error(`No such file: ${path}`), { response: { status: 404 } });
    }
    const name = path.split('/').pop()!;
    const content =
      f.type === 'directory' && options?.content
        ? [...this.files.entries()]
            .filter(([p]) => p.startsWith(`${path}/`) && !p.slice(path.length + 1).includes('/'))
            .map(([p, v]) => ({ path: p, name: p.split('/').pop(), type: v.type, last_modified: v.last_modified }))
        : null;
    return { path, name, type: f.type, last_modified: f.last_modified, content };
  }
}

/** Truth: left half 0, right half 1 (level-0 size). */
const TRUTH_PNG = (() => {
  const data = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = W / 2; x < W; x++) {
      data[y * W + x] = 1;
    }
  }
  return encode({ width: W, height: H, data, channels: 1, depth: 8 });
})();

/** A result over the whole slide at 1 px per map pixel; `right` = the class predicted on the right half. */
function result(version: string, right: number): AnalysisResult {
  const n = W * H;
  const meanProb = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const cls = i % W >= W / 2 ? right : 0;
    meanProb[i * 2 + cls] = 1;
  }
  return {
    region: {
      region: { x: 0, y: 0, width: W, height: H },
      level: 0,
      scale: 1,
      maps: { width: W, height: H, classes: 2, meanProb } as unknown as AnalysisResult['region']['maps'],
      covered: new Uint8Array(n).fill(1),
      tissue: new Uint8Array(n).fill(1),
      tiles: [],
      tissueSaturationThreshold: 0,
      partial: false
    },
    model: {
      metadata: {
        name: 'm',
        version,
        classes: [
          { name: 'background', color: [0, 0, 0] },
          { name: 'gland', color: [255, 0, 0] }
        ]
      }
    }
  } as unknown as AnalysisResult;
}

function setup(acquire: (r: EngineRequest) => Promise<IEngineLease>) {
  const contents = new FakeContents();
  const annotated: { version: string; dice: Record<string, unknown> }[] = [];
  const analyzed: unknown[] = [];
  const messages: { text: string; kind: string }[] = [];
  const resultChanged = new Signal<object, AnalysisResult | null>({});
  let settings: ISlideSettings = readSettings({});
  const analysis = {
    result: null as AnalysisResult | null,
    resultChanged,
    analyze: async (rect?: unknown) => {
      analyzed.push(rect);
    }
  };
  const session = {
    path: 'slides/s.tif',
    get settings() {
      return settings;
    },
    updateSettings: (s: Partial<ISlideSettings>) => (settings = readSettings({ ...settings, ...s })),
    analysis,
    source: { info: { width: W, height: H } },
    corrections: {
      manifest: {},
      annotateModel: async (version: string, fields: { dice: Record<string, unknown> }) => {
        annotated.push({ version, ...fields });
        return {};
      }
    },
    fileUrl: (p: string) => `http://x/files/${p}`,
    serverFetch: async (url: string) =>
      url.endsWith('.mask.png') ? new Response(TRUTH_PNG) : new Response('nope', { status: 404, statusText: 'Not Found' }),
    showMessage: (text: string, kind: string) => messages.push({ text, kind })
  };
  const engines: IEngineService = { acquire };
  const rounds = new ModelRounds({ session: session as never, contents: contents as never, engines, folder: FOLDER });
  const emit = (r: AnalysisResult) => {
    analysis.result = r;
    resultChanged.emit(r);
  };
  return { contents, rounds, session, annotated, analyzed, messages, emit };
}

const ok = async (r: EngineRequest): Promise<IEngineLease> => ({
  engine: {} as never,
  backend: 'cpu',
  backendReason: '',
  modelUrl: r.modelUrl,
  release: () => released.push(r.modelUrl)
});
let released: string[] = [];
beforeEach(() => (released = []));

function addVersion(c: FakeContents, v: string, stamp = '1', withModel = true) {
  c.put(`${FOLDER}/models`, 'directory');
  c.put(`${FOLDER}/models/${v}`, 'directory');
  if (withModel) {
    c.put(`${FOLDER}/models/${v}/model.json`, 'file', stamp);
  }
}

describe('ModelRounds', () => {
  it('orders versions and reads them from model paths', () => {
    expect(['10', '2', 'b', '1', 'a'].sort(compareVersions)).toEqual(['1', '2', '10', 'a', 'b']);
    expect(versionOfPath(FOLDER, `${FOLDER}/models/3/model.json`)).toBe('3');
    expect(versionOfPath(FOLDER, 'elsewhere/models/3/model.json')).toBeNull();
    expect(versionOfPath(FOLDER, '')).toBeNull();
  });

  it('offers the newest new version, not its own, not half-written ones, and a rewritten one again', async () => {
    const { contents, rounds } = setup(ok);
    await rounds.checkVersions();
    expect(rounds.offer).toBeNull();
    addVersion(contents, '1');
    addVersion(contents, '2');
    contents.put(`${FOLDER}/models/3.tmp-abc`, 'directory');
    contents.put(`${FOLDER}/models/3.tmp-abc/model.json`);
    await rounds.checkVersions();
    expect(rounds.offer?.version).toBe('2');
    expect(rounds.offer?.path).toBe(`${FOLDER}/models/2/model.json`);
    rounds.dismissOffer();
    await rounds.checkVersions();
    expect(rounds.offer).toBeNull();
    // Being written (no model.json yet): not offered until it is complete.
    addVersion(contents, '4', '1', false);
    await rounds.checkVersions();
    expect(rounds.offer).toBeNull();
    contents.put(`${FOLDER}/models/4/model.json`);
    await rounds.checkVersions();
    expect(rounds.offer?.version).toBe('4');
    rounds.dismissOffer();
    // Made by this panel: never offered.
    rounds.noteOwnVersion('5');
    addVersion(contents, '5');
    await rounds.checkVersions();
    expect(rounds.offer).toBeNull();
    // Version 2 rewritten by the notebook: offered again.
    contents.put(`${FOLDER}/models/2/model.json`, 'file', '2');
    await rounds.checkVersions();
    expect(rounds.offer?.version).toBe('2');
  });

  it('refuses a version that does not load and keeps the active model', async () => {
    const { contents, rounds, session, analyzed, messages } = setup(async () => {
      throw new Error('model.json is not valid JSON');
    });
    addVersion(contents, '1');
    await rounds.checkVersions();
    expect(await rounds.switchTo('1')).toBe(false);
    expect(session.settings.modelPath).toBe('');
    expect(analyzed).toHaveLength(0);
    expect(messages[messages.length - 1]).toEqual({
      text: 'Model version 1 refused: model.json is not valid JSON. Still using the default model.',
      kind: 'error'
    });
    expect(rounds.offer).toBeNull();
  });

  it('switches to a version that loads, re-analyses the same region and releases its check', async () => {
    const { contents, rounds, session, analyzed, emit } = setup(ok);
    emit(result('1', 1));
    addVersion(contents, '2');
    expect(await rounds.switchTo('2')).toBe(true);
    expect(session.settings.modelPath).toBe(`${FOLDER}/models/2/model.json`);
    expect(rounds.activeVersion).toBe('2');
    expect(analyzed).toEqual([{ x: 0, y: 0, width: W, height: H }]);
    expect(released).toEqual([`http://x/files/${FOLDER}/models/2/model.json`]);
  });

  it('measures Dice per round against the sibling mask and writes before/after to the version entry', async () => {
    const { contents, rounds, session, annotated, emit } = setup(ok);
    contents.put('slides/s.tif.mask.png');
    await rounds.findTruth();
    expect(rounds.truthNote).toBe('');
    // Round 0: the default model marks everything background.
    emit(result('1', 0));
    await new Promise(r => setTimeout(r, 0));
    expect(rounds.rounds).toHaveLength(1);
    expect(rounds.rounds[0].dice.perClass[1]).toBe(0);
    expect(rounds.rounds[0].dice.perClass[0]).toBeCloseTo(2 / 3);
    // Round 1: version 2 from the folder gets it right.
    session.updateSettings({ modelPath: `${FOLDER}/models/2/model.json` });
    emit(result('2', 1));
    await new Promise(r => setTimeout(r, 0));
    expect(rounds.rounds).toHaveLength(2);
    expect(rounds.rounds[1].dice.mean).toBe(1);
    expect(annotated).toHaveLength(1);
    expect(annotated[0].version).toBe('2');
    const dice = annotated[0].dice as any;
    expect(dice.truth).toBe('slides/s.tif.mask.png');
    expect(dice.region).toEqual([0, 0, W, H]);
    expect(dice.before.model).toBe('m@1');
    expect(dice.before.perClass.gland).toBe(0);
    expect(dice.after.perClass).toEqual({ background: 1, gland: 1 });
  });

  it('says why there is no ground truth', async () => {
    const { rounds } = setup(ok);
    await rounds.findTruth();
    expect(rounds.truth).toBeNull();
    expect(rounds.truthNote).toMatch(/No ground truth.*s\.tif\.mask\.png/);
    expect(await rounds.chooseTruth('slides/missing.png')).toBe(false);
    expect(rounds.truthNote).toMatch(/missing\.png: the server answered 404/);
  });
});
