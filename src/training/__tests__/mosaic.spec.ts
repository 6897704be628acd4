/**
 * The packaged demo mosaic (scripts/make-mosaic.py) opens in the panel's
 * slide reader: three pyramid levels, the model's pixel size (1.1 um/px) from
 * the resolution tags, and colours that match tifffile's decoding (spawned
 * .venv Python); its ground-truth mask has the slide's size and class values.
 */
jest.mock('quick-lru', () => require('../../slide/__tests__/quickLruShim'));
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import { openSlide } from '../../slide/open';
import { disposeDecoderPool } from '../../slide/tiff';
import { fileFetch, meanRgb } from '../../slide/__tests__/helpers';
import { requireOrSkip } from '../../__tests__/requirements';

const root = path.resolve(__dirname, '../../..');
const slidePath = path.join(root, 'jupyterlab_uga/sample/ebhi-target-mosaic.tif');
const python = path.join(root, '.venv/bin/python');

afterAll(() => disposeDecoderPool());

if (
  requireOrSkip(
    'the packaged mosaic slide',
    [slidePath, python].filter(p => !fs.existsSync(p))
  )
) {
  it('opens as a 3-level JPEG pyramid at 1.1 um/px with tifffile colours and a matching mask', async () => {
    const { fetch } = fileFetch(slidePath);
    const slide = await openSlide('http://localhost/files/ebhi-target-mosaic.tif', { fetch, name: 'ebhi-target-mosaic.tif' });
    expect(slide.info.levels.map(l => [l.width, l.height])).toEqual([
      [1792, 1120],
      [896, 560],
      [448, 280]
    ]);
    expect(slide.info.mppX).toBeCloseTo(1.1, 6);
    const regions = [
      [0, 100, 100],
      [0, 1500, 900],
      [1, 300, 200],
      [2, 100, 100]
    ];
    const script = [
      'import sys, json, tifffile',
      'pages = tifffile.TiffFile(sys.argv[1]).pages',
      'out = []',
      'for level, x, y in json.loads(sys.argv[2]):',
      '    a = pages[level].asarray()[y:y + 32, x:x + 32].reshape(-1, 3).mean(0)',
      '    out.append(a.tolist())',
      'print(json.dumps(out))'
    ].join('\n');
    const run = spawnSync(python, ['-c', script, slidePath, JSON.stringify(regions)], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const expected = JSON.parse(run.stdout) as number[][];
    for (const [i, [level, x, y]] of regions.entries()) {
      const mean = meanRgb(await slide.readRegion({ level, x, y, width: 32, height: 32 }));
      for (let k = 0; k < 3; k++) {
        expect(Math.abs(mean[k] - expected[i][k])).toBeLessThanOrEqual(3);
      }
    }
    slide.dispose();
    const mask = PNG.sync.read(fs.readFileSync(slidePath + '.mask.png'));
    expect([mask.width, mask.height]).toEqual([1792, 1120]);
    const values = new Set<number>();
    for (let i = 0; i < mask.data.length; i += 4) {
      values.add(mask.data[i]);
    }
    expect([...values].sort()).toEqual([0, 1]);
  });
}
