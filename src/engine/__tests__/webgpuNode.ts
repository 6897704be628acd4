/**
 * Real WebGPU in Node: Dawn (`webgpu` package) over SwiftShader's software
 * Vulkan. Must run before @tensorflow/tfjs-backend-webgpu is imported.
 */
import * as path from 'path';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Install navigator.gpu and the WebGPU globals from Dawn. */
export function installNodeWebGPU(): void {
  // The package entry is ESM; its native addon is plain CommonJS.
  const dir = path.dirname(require.resolve('webgpu/package.json'));
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;

  const dawn = require(path.join(dir, 'dist', `${process.platform}-${arch}`, 'dawn.node')) as {
    create: (flags: string[]) => unknown;
    globals: Record<string, unknown>;
  };
  Object.assign(globalThis, dawn.globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn.create([]) }, configurable: true, writable: true });
}
