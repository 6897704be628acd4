/**
 * The engine on real WebGPU (Dawn from the `webgpu` package over SwiftShader's
 * software Vulkan). Slow software GPU: tiny inputs.
 *
 * The Vulkan loader reads VK_ICD_FILENAMES from the real process environment,
 * which a jest test file cannot change (it gets a copy of process.env), and
 * Dawn needs libvulkan.so.1 (Debian's libvulkan1; Chromium also bundles one
 * in /usr/lib/chromium, usable through LD_LIBRARY_PATH). So:
 * - ICD file absent: skip, saying so on the console;
 * - VK_ICD_FILENAMES set and a Vulkan loader reachable: run the suite here;
 * - otherwise: run this same file in a child jest with the variables set, and
 *   fail if it fails.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { SWIFTSHADER_ICD, installNodeWebGPU } from './webgpuNode';
import { requireOrSkip } from '../../__tests__/requirements';

const icd = process.env.VK_ICD_FILENAMES || SWIFTSHADER_ICD;
const CHROMIUM_LIB_DIR = '/usr/lib/chromium';
const systemVulkan = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].some(d =>
  fs.existsSync(`${d}/libvulkan.so.1`)
);
const libraryPath = process.env.LD_LIBRARY_PATH ?? '';
const vulkanReachable = systemVulkan || libraryPath.split(':').includes(CHROMIUM_LIB_DIR);

if (
  !requireOrSkip(
    'McDropout on real WebGPU (SwiftShader)',
    fs.existsSync(icd) ? [] : [`a Vulkan ICD file at ${icd} (apt-get install -y chromium provides SwiftShader's)`]
  )
) {
  // Reported by requireOrSkip: skipped here, a failure under CI.
} else if (!process.env.VK_ICD_FILENAMES || !vulkanReachable) {
  it('passes the WebGPU suite in a child jest with VK_ICD_FILENAMES (and a Vulkan loader) set', () => {
    const env: Record<string, string | undefined> = { ...process.env, VK_ICD_FILENAMES: icd };
    if (!vulkanReachable && fs.existsSync(`${CHROMIUM_LIB_DIR}/libvulkan.so.1`)) {
      env.LD_LIBRARY_PATH = libraryPath ? `${CHROMIUM_LIB_DIR}:${libraryPath}` : CHROMIUM_LIB_DIR;
    }
    const result = spawnSync(process.execPath, [require.resolve('jest/bin/jest'), '--ci', '--runTestsByPath', __filename], {
      env,
      encoding: 'utf8',
      timeout: 300000
    });
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    if (result.status !== 0) {
      console.error(output);
    }
    expect(output).toMatch(/Tests:.*\d+ passed/);
    expect(output).not.toMatch(/Tests:.*failed/);
    expect(result.status).toBe(0);
  }, 320000);
} else {
  installNodeWebGPU();
  // Imported only after navigator.gpu exists.

  const { initBackend } = require('../backends') as typeof import('../backends');

  const { engineSuite } = require('./engineSuite') as typeof import('./engineSuite');

  const { probeWebGPUAdapter, softwareAdapterReason } = require('../backends') as typeof import('../backends');

  beforeAll(async () => {
    // SwiftShader is software: 'auto' must pass it over (to wasm here)...
    const reasons: string[] = [];
    const auto = await initBackend('auto', { onFallback: (n, why) => reasons.push(`${n}: ${why}`) });
    expect(auto).toBe('wasm');
    expect(reasons[0]).toMatch(/^webgpu: the WebGPU adapter is (SwiftShader|a fallback)/);
    // ...while a forced 'webgpu' still runs on it (correctness on tiny inputs).
    expect(await initBackend('webgpu')).toBe('webgpu');
  });

  it('detects the real SwiftShader adapter as software', async () => {
    const facts = await probeWebGPUAdapter();
    expect(facts).not.toBeNull();

    console.log(`adapter: ${JSON.stringify(facts)}`);
    expect(softwareAdapterReason(facts!)).toMatch(/software/);
  });

  engineSuite('webgpu', { size: 8, distributionSamples: 100, quick: true });
}
