/**
 * Reading and writing float32 tensors of CPU-memory backends without the
 * copies of dataSync() / tf.tensor(). On wasm a [20, 224, 224, 16] block is
 * 64 MB: copying it in and out per sample cost as much as the convolution.
 *
 * wasm: views on the module heap (`typedArrayFromHeap`, `makeOutput`, the
 * calls its own kernels use). A heap view is valid until the next wasm
 * allocation (memory growth replaces the buffer), so callers use it at once.
 * cpu: the backend's own arrays. Other backends: a copy.
 */
import type * as tfType from '@tensorflow/tfjs';

interface WasmBackendInternals {
  typedArrayFromHeap(info: { shape: number[]; dtype: string; dataId: object }): Float32Array;
  makeOutput(shape: number[], dtype: string): { dataId: object; shape: number[]; dtype: string };
}

interface EngineInternals {
  makeTensorFromTensorInfo(info: { dataId: object; shape: number[]; dtype: string }, backend?: unknown): tfType.Tensor;
}

function wasmBackend(tf: typeof tfType, t?: tfType.Tensor): WasmBackendInternals | null {
  if (tf.getBackend() !== 'wasm') {
    return null;
  }
  const backend = tf.backend() as unknown as Partial<WasmBackendInternals> & { dataIdMap?: { has(id: object): boolean } };
  if (typeof backend.typedArrayFromHeap !== 'function' || typeof backend.makeOutput !== 'function') {
    return null;
  }
  // A tensor that still lives on another backend is read the ordinary way.
  if (t && !backend.dataIdMap?.has(t.dataId)) {
    return null;
  }
  return backend as WasmBackendInternals;
}

/** The float32 values of `t`: a view when the backend allows (do not keep it, do not write it). */
export function readHost(tf: typeof tfType, t: tfType.Tensor): Float32Array {
  const wasm = wasmBackend(tf, t);
  if (wasm && t.dtype === 'float32') {
    return wasm.typedArrayFromHeap({ shape: t.shape, dtype: 'float32', dataId: t.dataId });
  }
  return t.dataSync() as Float32Array;
}

/** A new float32 tensor whose values `fill` writes in place (they start undefined on wasm). */
export function writeHost(tf: typeof tfType, shape: number[], fill: (out: Float32Array) => void): tfType.Tensor {
  const wasm = wasmBackend(tf);
  if (wasm) {
    const info = wasm.makeOutput(shape, 'float32');
    const tensor = (tf.engine() as unknown as EngineInternals).makeTensorFromTensorInfo(info);
    try {
      fill(wasm.typedArrayFromHeap(info));
    } catch (err) {
      tensor.dispose();
      throw err;
    }
    return tensor;
  }
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fill(out);
  // cpu keeps this array as the tensor's storage: it must not be reused.
  return tf.tensor(out, shape, 'float32');
}
