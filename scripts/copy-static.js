// Ship the default tfjs model (and tfjs' wasm binaries) as static files of
// the labextension, so the panel fetches them without a kernel or a server extension.
const fs = require('fs');
const path = require('path');

// tfjs-backend-wasm fetches its .wasm binaries at run time: serve them too.
const wasmSrc = path.join(__dirname, '..', 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
const wasmDest = path.join(__dirname, '..', 'jupyterlab_uga', 'labextension', 'static', 'tfjs-wasm');
fs.mkdirSync(wasmDest, { recursive: true });
for (const name of fs.readdirSync(wasmSrc)) {
  if (name.endsWith('.wasm')) {
    fs.copyFileSync(path.join(wasmSrc, name), path.join(wasmDest, name));
  }
}

// OpenJPEG's wasm build decodes Aperio JPEG 2000 tiles ~6x faster than its JS build.
const ojDest = path.join(__dirname, '..', 'jupyterlab_uga', 'labextension', 'static', 'openjpeg');
fs.mkdirSync(ojDest, { recursive: true });
fs.copyFileSync(
  path.join(__dirname, '..', 'node_modules', '@cornerstonejs', 'codec-openjpeg', 'dist', 'openjpegwasm_decode.wasm'),
  path.join(ojDest, 'openjpegwasm_decode.wasm')
);

const src = path.join(__dirname, '..', 'jupyterlab_uga', 'default_model');
const dest = path.join(__dirname, '..', 'jupyterlab_uga', 'labextension', 'static', 'default-model');
if (!fs.existsSync(path.join(src, 'model.json'))) {
  console.warn(`No default model in ${src}: the panel will ask for a model path.`);
  process.exit(0);
}
fs.mkdirSync(dest, { recursive: true });
for (const name of fs.readdirSync(src)) {
  if (name === 'model.json' || name.endsWith('.bin')) {
    fs.copyFileSync(path.join(src, name), path.join(dest, name));
  }
}
console.log(`Copied the default model to ${dest}`);
