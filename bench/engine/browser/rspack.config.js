// Bundles page.ts (the engine service, its Worker chunk, the slide reader) for
// the standalone benchmark page, the way the extension build does (Rspack).
// env: { out, entry, minify, minimizer: 'default' | 'project' }
//   minify: minified as the extension's production build is (webpack.config.js:
//   tfjs-wasm's Emscripten factories in a chunk the minimizer leaves alone);
//   minimizer 'default' instead minifies everything with Rspack's stock SWC
//   settings, which breaks tfjs-wasm's threaded build (its pthread Worker runs
//   the factory's source text, in which the minifier rewrote `typeof x` checks).
const path = require('path');
const { SwcJsMinimizerRspackPlugin } = require('@rspack/core');
const { wasmSafeMinification } = require('../../../webpack.config.js');
module.exports = (env = {}) => ({
  mode: 'production',
  devtool: false,
  entry: env.entry || path.join(__dirname, 'page.ts'),
  // chunk files named like the extension build's ([name].[contenthash].js): the minimizer's exclude matches names.
  output: {
    path: env.out || path.join(__dirname, 'dist'),
    filename: 'page.js',
    chunkFilename: '[name].page.js',
    publicPath: 'auto',
    clean: true
  },
  resolve: {
    extensions: ['.ts', '.js'],
    // src/ names the compiled worker file (./engine.worker.js) as the extension build sees lib/.
    extensionAlias: { '.js': ['.ts', '.js'] },
    fallback: { fs: false, path: false, crypto: false, os: false, worker_threads: false, perf_hooks: false, util: false, url: false }
  },
  module: {
    rules: [
      {
        test: /\.ts$/,
        loader: 'builtin:swc-loader',
        options: { jsc: { parser: { syntax: 'typescript' }, target: 'es2020' } },
        type: 'javascript/auto'
      }
    ]
  },
  optimization: env.minify
    ? env.minimizer === 'default'
      ? { minimize: true, minimizer: [new SwcJsMinimizerRspackPlugin()] }
      : { minimize: true, ...wasmSafeMinification }
    : { minimize: false },
  performance: { hints: false }
});
