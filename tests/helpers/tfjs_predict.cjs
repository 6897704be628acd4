// Run a tfjs LayersModel folder (model.json + shards) on a float32 NHWC input
// in Node with the pure-JS cpu backend; used by the Python export parity test.
// usage: node tfjs_predict.cjs <model_dir> <input.bin> <n,h,w,c> <output.bin>
// Writes float32 little-endian predictions and prints a JSON summary line.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

async function main() {
  const [modelDir, inputPath, shapeText, outputPath] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const modelJson = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const specs = [];
  const buffers = [];
  for (const group of modelJson.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(modelDir, p)));
  }
  const joined = Buffer.concat(buffers);
  const weightData = joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength);
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: specs, weightData })
  );
  const shape = shapeText.split(',').map(Number);
  const raw = fs.readFileSync(inputPath);
  const input = tf.tensor(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), shape, 'float32');
  const output = model.predict(input);
  const data = await output.data();
  fs.writeFileSync(outputPath, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  const layerNames = model.layers.map((l) => l.name);
  console.log(JSON.stringify({ outputShape: output.shape, layers: layerNames.length, first: layerNames[0], last: layerNames[layerNames.length - 1], backend: tf.getBackend() }));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
