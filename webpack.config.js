// Extra build config merged by the JupyterLab extension builder (Rspack).
// Emscripten and tfjs builds reference Node built-ins on their Node code path
// only; in the browser bundle those imports must resolve to nothing.
//
// Minification (production build, `npm run build:prod`): tfjs-backend-wasm
// starts the pthread Workers of its threaded build from the *source text* of
// its Emscripten factory (`factory.toString()` in a Blob). The minifier
// rewrites that factory's `typeof _scriptDir !== "undefined"` into
// `void 0 !== a` — valid inside the factory's closure, where `a` is declared,
// but not in the Worker, which gets the function's text without the closure:
// it dies with "a is not defined" and WASM never gets its threads. No single
// SWC compress flag turns that rewrite off (typeofs: false does not), so the
// Emscripten factories (already minified by Emscripten) go into a chunk of
// their own, `tfjs-wasm-factory`, which the minimizer leaves alone; the rest
// of the bundle is minified as usual. See docs/cross-origin-isolation.md.
const { SwcJsMinimizerRspackPlugin, LightningCssMinimizerRspackPlugin } = require('@rspack/core');

/** Chunk name of tfjs-backend-wasm's Emscripten factories (wasm-out/*.js). */
const WASM_FACTORY_CHUNK = 'tfjs-wasm-factory';

/** What the production build and the benchmark page's --minify share. */
const wasmSafeMinification = {
  splitChunks: {
    cacheGroups: {
      tfjsWasmFactory: {
        test: /[\\/]@tensorflow[\\/]tfjs-backend-wasm[\\/]wasm-out[\\/][^\\/]+\.js$/,
        name: WASM_FACTORY_CHUNK,
        chunks: 'all',
        enforce: true,
        priority: 100
      }
    }
  },
  minimizer: [new SwcJsMinimizerRspackPlugin({ exclude: new RegExp(WASM_FACTORY_CHUNK) }), new LightningCssMinimizerRspackPlugin()]
};

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
  },
  optimization: wasmSafeMinification
};
module.exports.wasmSafeMinification = wasmSafeMinification;
module.exports.WASM_FACTORY_CHUNK = WASM_FACTORY_CHUNK;
