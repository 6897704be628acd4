// Ship the default tfjs model as static files of the labextension, so the
// panel can fetch it without a kernel or a server extension.
const fs = require('fs');
const path = require('path');

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
