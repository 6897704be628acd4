// Extra build config merged by the JupyterLab extension builder (Rspack).
// Emscripten and tfjs builds reference Node built-ins on their Node code path
// only; in the browser bundle those imports must resolve to nothing.
module.exports = {
  resolve: {
    fallback: {
      fs: false,
      path: false,
      crypto: false,
      os: false,
      worker_threads: false,
      perf_hooks: false,
      util: false,
      url: false
    }
  }
};
