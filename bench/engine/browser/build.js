// Build the benchmark page with @rspack/core (the extension builder's bundler): node build.js OUT_DIR
const { rspack } = require('@rspack/core');
const config = require('./rspack.config.js')({ out: process.argv[2] });
rspack(config, (err, stats) => {
  if (err || stats.hasErrors()) {
    console.error(err || stats.toString({ all: false, errors: true }));
    process.exit(1);
  }
  console.log(stats.toString({ all: false, assets: true }).split('\n').slice(0, 12).join('\n'));
});
