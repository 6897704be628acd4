// Build the benchmark page with @rspack/core (the extension builder's bundler):
//   node build.js OUT_DIR [--root DIR] [--minify]
// --root: bundle DIR/bench/engine/browser/page.ts (a baseline's src/ tree) instead of this one.
// --minify: minified as the production build is, with webpack.config.js's minimizer rules;
// --minify-default: with Rspack's stock minimizer settings instead (breaks tfjs-wasm threads).
const path = require('path');
const { rspack } = require('@rspack/core');
const args = process.argv.slice(2);
const opt = name => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const root = opt('--root');
const config = require('./rspack.config.js')({
  out: args[0],
  entry: root ? path.join(path.resolve(root), 'bench/engine/browser/page.ts') : undefined,
  minify: args.includes('--minify') || args.includes('--minify-default'),
  minimizer: args.includes('--minify-default') ? 'default' : 'project'
});
rspack(config, (err, stats) => {
  if (err || stats.hasErrors()) {
    console.error(err || stats.toString({ all: false, errors: true }));
    process.exit(1);
  }
  console.log(stats.toString({ all: false, assets: true }).split('\n').slice(0, 12).join('\n'));
});
