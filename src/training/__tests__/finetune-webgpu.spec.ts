/**
 * Fine-tuning on real WebGPU (Dawn over SwiftShader), tiny net: same suite
 * as cpu. Same launcher logic as the engine's WebGPU spec: the Vulkan loader
 * reads VK_ICD_FILENAMES from the real process environment, so without it
 * this file re-runs itself in a child jest with it set.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { SWIFTSHADER_ICD, installNodeWebGPU } from '../../engine/__tests__/webgpuNode';
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
    'fine-tuning on real WebGPU (SwiftShader)',
    fs.existsSync(icd) ? [] : [`a Vulkan ICD file at ${icd} (apt-get install -y chromium provides SwiftShader's)`]
  )
) {
  // Reported by requireOrSkip.
} else if (!process.env.VK_ICD_FILENAMES || !vulkanReachable) {
  it('passes the WebGPU fine-tuning suite in a child jest with VK_ICD_FILENAMES set', () => {
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
    expect(output).toMatch(/Tests:\s+\d+ passed/);
    expect(result.status).toBe(0);
  }, 320000);
} else {
  installNodeWebGPU();

  const { initBackend } = require('../../engine/backends') as typeof import('../../engine/backends');

  const { trainingSuite } = require('./trainingSuite') as typeof import('./trainingSuite');

  beforeAll(async () => {
    expect(await initBackend('webgpu')).toBe('webgpu');
  });

  trainingSuite('webgpu', { steps: 12 });
}
