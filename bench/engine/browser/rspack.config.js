// Bundles page.ts (the engine service, its Worker chunk, the slide reader) for
// the standalone benchmark page, the way the extension build does (Rspack).
const path = require('path');
module.exports = (env = {}) => ({
  mode: 'production',
  devtool: false,
  entry: path.join(__dirname, 'page.ts'),
  output: { path: env.out || path.join(__dirname, 'dist'), filename: 'page.js', publicPath: 'auto', clean: true },
  resolve: {
    extensions: ['.ts', '.js'],
    // src/ names the compiled worker file (./engine.worker.js) as the extension build sees lib/.
    extensionAlias: { '.js': ['.ts', '.js'] },
    fallback: { fs: false, path: false, crypto: false, os: false, worker_threads: false, perf_hooks: false, util: false, url: false }
  },
  module: {
    rules: [{ test: /\.ts$/, loader: 'builtin:swc-loader', options: { jsc: { parser: { syntax: 'typescript' }, target: 'es2020' } }, type: 'javascript/auto' }]
  },
  // Minifying breaks tfjs-wasm's threaded build: its pthread Worker source is
  // inlined as text and refers to names the minifier renames ('a is not defined').
  optimization: { minimize: false },
  performance: { hints: false }
});
