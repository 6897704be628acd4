/**
 * End to end on a real slide: open it with the project's slide reader, run
 * analyzeRegion (tissue mask, tiling at the model's mpp, MC dropout, blending)
 * and rank patches to correct. Prints timing, tiles analysed/skipped, the
 * top suggestions, and a final key=value line.
 *
 *   npx tsx bench/engine/analyze-region.ts [--slide FILE] [--model DIR] [--samples 20]
 *        [--region x,y,w,h] [--backend wasm] [--strategy uga_score]
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BackendName, initBackend } from '../../src/engine/backends';
import { McDropout } from '../../src/engine/mcdropout';
import { loadSegmentationModel } from '../../src/engine/model';
import { analyzeRegion } from '../../src/engine/region';
import { openSlide } from '../../src/slide/open';
import { fileFetch } from '../../src/slide/__tests__/helpers';
import { ScoreStrategy, rankPatches } from '../../src/uncertainty/scoring';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const data = process.env.UGA_DATA ?? path.resolve(__dirname, '../../../shared/data');
  const slideFile = arg('slide', path.join(data, 'slides/CMU-1-Small-Region.svs'));
  const modelDir = arg('model', path.resolve(__dirname, '../../jupyterlab_uga/default_model'));
  const samples = Number(arg('samples', '20'));
  const strategy = arg('strategy', 'uga_score') as ScoreStrategy;
  const backend = await initBackend(arg('backend', 'wasm') as BackendName);
  const modelFetch = (async (input: RequestInfo | URL) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return new Response(fs.readFileSync(path.join(modelDir, url.replace(/^.*\//, ''))));
  }) as typeof fetch;
  const model = await loadSegmentationModel('http://local/model/model.json', { fetchFunc: modelFetch });
  const slide = await openSlide(`http://local/files/${path.basename(slideFile)}`, {
    fetch: fileFetch(slideFile).fetch,
    name: path.basename(slideFile)
  });
  const [x, y, w, h] = arg('region', `0,0,${slide.info.width},${slide.info.height}`).split(',').map(Number);
  const engine = new McDropout(model, { samples, seed: 1 });
  console.log(
    `slide ${path.basename(slideFile)} ${slide.info.width}x${slide.info.height} mpp ${slide.info.mppX ?? '?'}; model mpp ${model.metadata.mpp}; backend ${backend}; T=${samples}`
  );
  const before = tf.memory().numTensors;
  let tilesDone = 0;
  const t0 = performance.now();
  let firstTileS = NaN;
  const result = await analyzeRegion(slide, { x, y, width: w, height: h }, engine, {
    onTile: () => {
      if (tilesDone++ === 0) {
        firstTileS = (performance.now() - t0) / 1000;
      }
    }
  });
  const seconds = (performance.now() - t0) / 1000;
  const analysed = result.tiles.filter(t => t.analyzed).length;
  const mapMpx = (result.maps.width * result.maps.height) / 1e6;
  const suggestions = rankPatches(result.maps, {
    strategy,
    patchSize: model.metadata.patchSize,
    count: 5,
    origin: { x, y },
    scale: result.scale,
    foregroundClass: model.metadata.foregroundClass,
    covered: result.covered
  });
  console.log(
    `level ${result.level}, scale ${result.scale.toFixed(3)} level-0 px per model px, map ${result.maps.width}x${result.maps.height}`
  );
  console.log(
    `tiles ${result.tiles.length}: analysed ${analysed}, skipped as background ${result.tiles.length - analysed} (saturation threshold ${result.tissueSaturationThreshold.toFixed(3)})`
  );
  console.log(
    `time ${seconds.toFixed(1)} s, first tile after ${firstTileS.toFixed(2)} s, ${(mapMpx / seconds).toFixed(4)} Mpx/s of map, ${(slide.bytesRead / 1e6).toFixed(1)} MB read`
  );
  console.log(`top ${suggestions.length} patches to correct (${strategy}):`);
  for (const s of suggestions) {
    console.log(
      `  #${s.rank} (${s.x}, ${s.y}) ${s.width}x${s.height} score ${s.score.toFixed(3)} entropy ${s.meanEntropy.toFixed(3)} MI ${s.meanMutualInformation.toFixed(3)} gland ${(100 * s.foregroundFraction).toFixed(0)}%`
    );
  }
  if (tf.memory().numTensors !== before) {
    throw new Error(`tensor leak: ${before} -> ${tf.memory().numTensors}`);
  }
  console.log(
    `region_seconds=${seconds.toFixed(2)} first_tile_s=${firstTileS.toFixed(2)} tiles=${result.tiles.length} analysed=${analysed} map_mpx_per_s=${(mapMpx / seconds).toFixed(4)} backend=${backend} samples=${samples}`
  );
  model.dispose();
  slide.dispose();
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
