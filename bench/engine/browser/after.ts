/**
 * What the panel does on the page's thread once analyzeRegion has returned
 * (AnalysisModel.run and AnalysisOverlays._onResult, in src/analysis and
 * src/widgets): each step timed on its own, so the benchmark tells which of
 * them would still be a long task.
 */
import { heatmapRGBA, maskRGBA, measureScale, measureValues } from '../../../src/analysis/heatmap';
import type { RegionResult } from '../../../src/engine/region';
import { predictedClasses } from '../../../src/uncertainty/maps';
import { suggestPatches } from '../../../src/uncertainty/suggestions';

export type AfterSteps = [string, number][];

export async function afterAnalysis(result: RegionResult): Promise<AfterSteps> {
  const steps: AfterSteps = [];
  const time = async <T>(name: string, f: () => T): Promise<T> => {
    // A turn of the event loop first, so each step is a task of its own.
    await new Promise(r => setTimeout(r, 0));
    const t0 = performance.now();
    const v = f();
    steps.push([name, performance.now() - t0]);
    return v;
  };
  const { maps } = result;
  const onTissue = await time('covered & tissue (AnalysisModel)', () => {
    const out = new Uint8Array(result.covered.length);
    for (let i = 0; i < out.length; i++) {
      out[i] = result.covered[i] & result.tissue[i];
    }
    return out;
  });
  await time('suggestPatches (AnalysisModel)', () =>
    suggestPatches(maps, { strategy: 'uga_code', patchSize: 256, count: 10, scale: result.scale, covered: onTissue })
  );
  const labels = await time('predictedClasses (overlays)', () => predictedClasses(maps));
  await time('heatmap: measure, scale, RGBA (overlays)', () => {
    const values = measureValues(maps, 'entropy', 1);
    const scale = measureScale(values, 'entropy', onTissue);
    return heatmapRGBA(values, maps.width, maps.height, { ceiling: scale.ceiling, floor: scale.floor });
  });
  await time('mask RGBA (overlays)', () =>
    maskRGBA(
      labels,
      maps.width,
      maps.height,
      [
        [0, 0, 0],
        [200, 0, 0]
      ],
      'outline',
      onTissue
    )
  );
  return steps;
}
