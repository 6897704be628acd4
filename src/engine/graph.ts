/**
 * Executing a functional LayersModel node by node, so that Dropout alone can
 * be switched on (BatchNormalization and the rest stay in inference mode) and
 * so that the part of the graph no Dropout feeds is computed only once.
 */
import type * as tfType from '@tensorflow/tfjs';
import { DROPOUT_CLASS_NAMES, isActiveDropout } from './model';
import { readHost, writeHost } from './hostIO';
import { DropoutStream, dropoutMask } from './random';

/** The parts of tfjs-layers' Node we use (not exported by tfjs' typings). */
export interface GraphNode {
  outboundLayer: tfType.layers.Layer;
  inputTensors: tfType.SymbolicTensor[];
  outputTensors: tfType.SymbolicTensor[];
}

interface ModelInternals {
  nodesByDepth: Record<string, GraphNode[]>;
}

export interface GraphPlan {
  /** Nodes in execution order (inputs first), InputLayers excluded. */
  nodes: GraphNode[];
  /** Nodes that no active Dropout feeds: run once per patch. */
  prefix: GraphNode[];
  /** Dropout nodes and everything downstream: run once per MC sample. */
  suffix: GraphNode[];
  /** Symbolic tensors computed by the prefix and read by the suffix. */
  frontier: tfType.SymbolicTensor[];
  inputId: number;
  outputId: number;
  /** Per-sample float count of all suffix activations (memory estimate). */
  suffixFloatsPerSample: number;
}

function ordered(model: tfType.LayersModel): GraphNode[] {
  const byDepth = (model as unknown as ModelInternals).nodesByDepth;
  if (!byDepth) {
    throw new Error('not a functional LayersModel (no nodesByDepth)');
  }
  const depths = Object.keys(byDepth)
    .map(d => parseInt(d, 10))
    .sort((a, b) => b - a);
  const nodes: GraphNode[] = [];
  for (const d of depths) {
    for (const node of byDepth[String(d)]) {
      if (node.outboundLayer.getClassName() !== 'InputLayer') {
        nodes.push(node);
      }
    }
  }
  return nodes;
}

/**
 * Split the graph. With `cachePrefix = false` everything is "suffix" (naive
 * MC: T full passes), which the tests and the benchmark compare against.
 */
export function planGraph(model: tfType.LayersModel, cachePrefix = true, unknownDim = 1): GraphPlan {
  const nodes = ordered(model);
  const stochasticTensors = new Set<number>();
  const prefix: GraphNode[] = [];
  const suffix: GraphNode[] = [];
  const inputId = model.inputs[0].id;
  if (!cachePrefix) {
    stochasticTensors.add(inputId);
  }
  for (const node of nodes) {
    const stochastic = isActiveDropout(node.outboundLayer) || node.inputTensors.some(t => stochasticTensors.has(t.id));
    if (stochastic) {
      suffix.push(node);
      for (const t of node.outputTensors) {
        stochasticTensors.add(t.id);
      }
    } else {
      prefix.push(node);
    }
  }
  const produced = new Set<number>([inputId]);
  for (const node of prefix) {
    for (const t of node.outputTensors) {
      produced.add(t.id);
    }
  }
  const frontierIds = new Set<number>();
  const frontier: tfType.SymbolicTensor[] = [];
  for (const node of suffix) {
    for (const t of node.inputTensors) {
      if (produced.has(t.id) && !frontierIds.has(t.id)) {
        frontierIds.add(t.id);
        frontier.push(t);
      }
    }
  }
  const outputId = model.outputs[0].id;
  if (!stochasticTensors.has(outputId) && !frontierIds.has(outputId)) {
    // No dropout on the path to the output: the output itself is the frontier.
    frontier.push(model.outputs[0]);
  }
  let suffixFloatsPerSample = 0;
  for (const node of suffix) {
    for (const t of node.outputTensors) {
      // Unknown (fully convolutional) dims count as `unknownDim`: an upper bound when it is the patch size.
      suffixFloatsPerSample += t.shape.slice(1).reduce<number>((a, b) => a * (b ?? unknownDim), 1);
    }
  }
  return { nodes, prefix, suffix, frontier, inputId, outputId, suffixFloatsPerSample };
}

export interface DropoutRandom {
  /** Next integer seed for one dropout mask. */
  nextSeed(): number;
  /**
   * MC samples per patch in this call. An input with batch 1 (a frontier
   * tensor read only by Dropout) is broadcast to this many rows by the mask,
   * which saves tiling it.
   */
  rows?: number;
  /**
   * Tensors live in CPU memory (wasm, cpu): plain Dropout reads its input,
   * draws and applies the mask in one JS pass and uploads the result, which
   * saves a mask upload and a multiply op per sample.
   */
  host?: boolean;
}

/**
 * One executable step: a layer, or a Conv2D + BatchNormalization (+ ReLU)
 * chain folded into one fused convolution.
 */
export interface Step {
  name: string;
  inputIds: number[];
  outputIds: number[];
  apply(tf: typeof tfType, inputs: tfType.Tensor[], sample: boolean, random: DropoutRandom): tfType.Tensor[];
}

function dropoutStep(tf: typeof tfType, layer: tfType.layers.Layer, x: tfType.Tensor, random: DropoutRandom): tfType.Tensor {
  const name = layer.getClassName();
  const shape = x.shape as number[];
  const config = layer.getConfig() as { rate: number; noiseShape?: (number | null)[] | null };
  if (name === 'Dropout' || name === 'SpatialDropout1D') {
    let noiseShape = shape;
    if (name === 'Dropout' && !config.noiseShape && shape[0] === 1 && (random.rows ?? 1) > 1) {
      noiseShape = [random.rows!, ...shape.slice(1)];
    }
    if (name === 'SpatialDropout1D') {
      noiseShape = [shape[0], 1, shape[2]];
    } else if (config.noiseShape) {
      noiseShape = config.noiseShape.map((d, i) => (d === null ? shape[i] : d));
    }
    const size = noiseShape.reduce((a, b) => a * b, 1);
    if (random.host && name === 'Dropout' && !config.noiseShape && x.dtype === 'float32') {
      const stream = new DropoutStream(config.rate, random.nextSeed());
      return writeHost(tf, noiseShape, out => {
        // Read after the output is allocated (a wasm heap view dies when the heap grows).
        const src = readHost(tf, x);
        // Mask entry i multiplies src[i mod src.length]: the broadcast of a batch-1 input.
        stream.fill(out, 0, size, src, src.length);
      });
    }
    return tf.tidy(() => tf.mul(x, tf.tensor(dropoutMask(size, config.rate, random.nextSeed()), noiseShape, 'float32')));
  }
  // GaussianDropout / AlphaDropout: their own training-mode call touches only themselves.
  return layer.call(x, { training: true }) as tfType.Tensor;
}

/**
 * Apply one layer in inference mode, except dropout layers which sample a
 * mask when `sample` is set. Dropout draws its own mask with a fresh seed per
 * call: tfjs' Dropout reuses the layer's configured seed, which would give
 * every MC sample the same mask.
 */
function layerStep(node: GraphNode): Step {
  const layer = node.outboundLayer;
  const isDropout = DROPOUT_CLASS_NAMES.has(layer.getClassName());
  return {
    name: layer.name,
    inputIds: node.inputTensors.map(t => t.id),
    outputIds: node.outputTensors.map(t => t.id),
    apply(tf, inputs, sample, random) {
      if (isDropout) {
        return [sample && isActiveDropout(layer) ? dropoutStep(tf, layer, inputs[0], random) : inputs[0].clone()];
      }
      const out = layer.call(inputs.length === 1 ? inputs[0] : inputs, { training: false });
      return Array.isArray(out) ? out : [out];
    }
  };
}

interface ConvConfig {
  strides: number | number[];
  padding: 'same' | 'valid';
  dataFormat?: string;
  dilationRate: number | number[];
  activation?: string;
  useBias?: boolean;
}

function isReLU(layer: tfType.layers.Layer): boolean {
  const name = layer.getClassName();
  const config = layer.getConfig() as { activation?: string; maxValue?: number | null; negativeSlope?: number; threshold?: number };
  if (name === 'Activation') {
    return config.activation === 'relu';
  }
  return name === 'ReLU' && (config.maxValue === null || config.maxValue === undefined) && !config.negativeSlope && !config.threshold;
}

/**
 * Build steps for `nodes`, folding Conv2D -> BatchNormalization (-> ReLU)
 * chains whose intermediate outputs nobody else reads into one fused conv:
 * exact in inference mode (BN is then a per-channel affine map), and one op
 * instead of three. `readers` counts the readers of each tensor in the whole
 * graph (model outputs count as readers). Returns the steps and a dispose
 * for the folded weights.
 */
export function compileSteps(
  tf: typeof tfType,
  nodes: GraphNode[],
  readers: Map<number, number>,
  fuse = true
): { steps: Step[]; dispose: () => void } {
  const steps: Step[] = [];
  const owned: tfType.Tensor[] = [];
  const consumerOf = new Map<number, GraphNode>();
  for (const node of nodes) {
    for (const t of node.inputTensors) {
      consumerOf.set(t.id, node);
    }
  }
  const soleConsumer = (id: number): GraphNode | undefined => (readers.get(id) === 1 ? consumerOf.get(id) : undefined);
  const used = new Set<GraphNode>();
  for (const node of nodes) {
    if (used.has(node)) {
      continue;
    }
    const conv = node.outboundLayer;
    const convConfig = conv.getConfig() as unknown as ConvConfig;
    const bnNode =
      fuse &&
      conv.getClassName() === 'Conv2D' &&
      (convConfig.activation ?? 'linear') === 'linear' &&
      convConfig.dataFormat !== 'channelsFirst'
        ? soleConsumer(node.outputTensors[0].id)
        : undefined;
    const bnConfig = bnNode?.outboundLayer.getConfig() as
      { axis?: number | number[]; epsilon: number; center?: boolean; scale?: boolean } | undefined;
    if (
      !bnNode ||
      bnNode.outboundLayer.getClassName() !== 'BatchNormalization' ||
      !bnConfig ||
      ![-1, 3].includes(Number(bnConfig.axis ?? -1))
    ) {
      steps.push(layerStep(node));
      continue;
    }
    const reluNode = soleConsumer(bnNode.outputTensors[0].id);
    const withRelu = reluNode !== undefined && isReLU(reluNode.outboundLayer);
    const last = withRelu ? reluNode! : bnNode;
    const [filter, bias] = tf.tidy(() => {
      const convWeights = conv.getWeights();
      const kernel = convWeights[0];
      const convBias = convConfig.useBias === false || convWeights.length < 2 ? tf.zeros([kernel.shape[3] as number]) : convWeights[1];
      const bnWeights = bnNode.outboundLayer.getWeights();
      let k = 0;
      const gamma = bnConfig.scale === false ? tf.onesLike(convBias) : bnWeights[k++];
      const beta = bnConfig.center === false ? tf.zerosLike(convBias) : bnWeights[k++];
      const mean = bnWeights[k++];
      const variance = bnWeights[k++];
      const scale = tf.div(gamma, tf.sqrt(tf.add(variance, bnConfig.epsilon)));
      return [tf.mul(kernel, scale), tf.add(tf.mul(tf.sub(convBias, mean), scale), beta)];
    });
    owned.push(filter, bias);
    used.add(bnNode);
    if (withRelu) {
      used.add(reluNode!);
    }
    const strides = convConfig.strides;
    const dilations = convConfig.dilationRate;
    steps.push({
      name: `${conv.name}+${bnNode.outboundLayer.name}${withRelu ? '+' + reluNode!.outboundLayer.name : ''}`,
      inputIds: node.inputTensors.map(t => t.id),
      outputIds: last.outputTensors.map(t => t.id),
      apply(tfm, inputs) {
        return [
          tfm.fused.conv2d({
            x: inputs[0] as tfType.Tensor4D,
            filter: filter as tfType.Tensor4D,
            bias,
            strides: strides as [number, number],
            pad: convConfig.padding,
            dilations: dilations as [number, number],
            activation: withRelu ? 'relu' : 'linear'
          })
        ];
      }
    });
  }
  return { steps, dispose: () => owned.forEach(t => t.dispose()) };
}

/** Frontier tensors whose only suffix readers are plain Dropout layers (these can skip tiling). */
export function dropoutOnlyInputs(plan: GraphPlan): Set<number> {
  const result = new Set<number>();
  for (const t of plan.frontier) {
    const readers = plan.suffix.filter(n => n.inputTensors.some(x => x.id === t.id));
    const plain = readers.every(n => {
      const layer = n.outboundLayer;
      return layer.getClassName() === 'Dropout' && isActiveDropout(layer) && !(layer.getConfig() as { noiseShape?: unknown }).noiseShape;
    });
    if (readers.length > 0 && plain) {
      result.add(t.id);
    }
  }
  return result;
}

/** Readers of every tensor in the whole model (the model output counts as one). */
export function countReaders(model: tfType.LayersModel, plan: GraphPlan): Map<number, number> {
  const readers = new Map<number, number>();
  for (const node of plan.nodes) {
    for (const t of node.inputTensors) {
      readers.set(t.id, (readers.get(t.id) ?? 0) + 1);
    }
  }
  for (const t of model.outputs) {
    readers.set(t.id, (readers.get(t.id) ?? 0) + 1);
  }
  for (const t of plan.frontier) {
    // Frontier tensors are handed from the prefix to the suffix: keep them whole.
    readers.set(t.id, (readers.get(t.id) ?? 0) + 1);
  }
  return readers;
}

/**
 * Run steps given concrete tensors for some symbolic ids; returns the
 * tensors of `keep`. Intermediates are disposed as soon as their last reader
 * has run, so peak memory stays near the widest cut of the graph.
 */
export function runSteps(
  tf: typeof tfType,
  steps: Step[],
  feeds: Map<number, tfType.Tensor>,
  keep: number[],
  sample: boolean,
  random: DropoutRandom
): Map<number, tfType.Tensor> {
  const remainingReads = new Map<number, number>();
  for (const step of steps) {
    for (const id of step.inputIds) {
      remainingReads.set(id, (remainingReads.get(id) ?? 0) + 1);
    }
  }
  const keepSet = new Set(keep);
  const values = new Map<number, tfType.Tensor>(feeds);
  const owned = new Set<number>();
  try {
    for (const step of steps) {
      const inputs = step.inputIds.map(id => {
        const v = values.get(id);
        if (!v) {
          throw new Error(`an input of ${step.name} was not computed`);
        }
        return v;
      });
      const outputs = step.apply(tf, inputs, sample, random);
      step.outputIds.forEach((id, i) => {
        values.set(id, outputs[i]);
        owned.add(id);
      });
      for (const id of step.inputIds) {
        const left = (remainingReads.get(id) ?? 1) - 1;
        remainingReads.set(id, left);
        if (left === 0 && owned.has(id) && !keepSet.has(id)) {
          values.get(id)!.dispose();
          values.delete(id);
          owned.delete(id);
        }
      }
    }
    const result = new Map<number, tfType.Tensor>();
    for (const id of keep) {
      const v = values.get(id);
      if (!v) {
        throw new Error(`tensor ${id} was not computed`);
      }
      result.set(id, owned.has(id) ? v : v.clone());
      owned.delete(id);
    }
    return result;
  } finally {
    for (const id of owned) {
      values.get(id)?.dispose();
    }
  }
}
