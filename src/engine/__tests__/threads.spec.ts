import { liftWasmThreadCap } from '../backends';

// A stand-in for a worker's global scope: tfjs-wasm reads navigator.hardwareConcurrency
// when its module starts and caps its thread pool at half of it.
function workerScope(cores: number): { navigator: { hardwareConcurrency: number }; WorkerGlobalScope: unknown } {
  class WorkerNavigator {
    get hardwareConcurrency(): number {
      return cores;
    }
  }
  return { navigator: new WorkerNavigator(), WorkerGlobalScope: function WorkerGlobalScope() {} };
}

describe('liftWasmThreadCap', () => {
  it('makes tfjs-wasm see twice the threads asked for in a worker, so 2 threads run on 2 cores', () => {
    const scope = workerScope(2);
    expect(liftWasmThreadCap(2, scope)).toBe(true);
    expect(scope.navigator.hardwareConcurrency).toBe(4);
  });

  it('leaves the scope alone when the cap already allows the threads asked for', () => {
    const scope = workerScope(16);
    expect(liftWasmThreadCap(4, scope)).toBe(false);
    expect(scope.navigator.hardwareConcurrency).toBe(16);
    expect(liftWasmThreadCap(9, scope)).toBe(true);
    expect(scope.navigator.hardwareConcurrency).toBe(18);
  });

  it('never touches a page (JupyterLab reads hardwareConcurrency too)', () => {
    const page = { ...workerScope(2), document: {} };
    expect(liftWasmThreadCap(2, page)).toBe(false);
    expect(page.navigator.hardwareConcurrency).toBe(2);
    const noWorker = { navigator: workerScope(2).navigator };
    expect(liftWasmThreadCap(2, noWorker)).toBe(false);
    expect(noWorker.navigator.hardwareConcurrency).toBe(2);
  });

  it('ignores a missing or non-positive count', () => {
    const scope = workerScope(2);
    expect(liftWasmThreadCap(0, scope)).toBe(false);
    expect(liftWasmThreadCap(Number.NaN, scope)).toBe(false);
    expect(scope.navigator.hardwareConcurrency).toBe(2);
  });
});
