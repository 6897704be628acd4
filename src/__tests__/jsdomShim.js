// What JupyterLab's widgets expect from a browser and jsdom lacks (as in
// @jupyterlab/testing's jest shim). Node-environment suites are untouched.
if (typeof window !== 'undefined' && typeof document !== 'undefined') {
  if (typeof window.TextEncoder === 'undefined') {
    const util = require('util');
    window.TextEncoder = util.TextEncoder;
    window.TextDecoder = util.TextDecoder;
  }
  if (typeof window.DragEvent === 'undefined') {
    window.DragEvent = class DragEvent extends window.MouseEvent {};
  }
  if (!window.matchMedia) {
    window.matchMedia = () => ({ matches: false, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {} });
  }
  if (typeof window.ResizeObserver === 'undefined') {
    window.ResizeObserver = class { observe() {} unobserve() {} disconnect() {} };
  }
  if (!document.elementFromPoint) {
    document.elementFromPoint = () => null;
  }
  window.HTMLElement.prototype.scrollIntoView = window.HTMLElement.prototype.scrollIntoView || function () {};
}
