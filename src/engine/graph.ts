/**
 * Executing a functional LayersModel node by node, so that Dropout alone can
 * be switched on (BatchNormalization and the rest stay in inference mode) and
 * so that the part of the graph no Dropout feeds is computed only once.
 */
import type * as tfType from '@tensorflow/tfjs';
import { DROPOUT_CLASS_NAMES, isActiveDropout } from './model';

/** The parts of tfjs-layers' Node we use (not exported by tfjs' typings). */
interface GraphNode {
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
export function planGraph(model: tfType.LayersModel, cachePrefix = true): GraphPlan {
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
      suffixFloatsPerSample += t.shape.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1);
    }
  }
  return { nodes, prefix, suffix, frontier, inputId, outputId, suffixFloatsPerSample };
}

export interface DropoutRandom {
  /** Next integer seed for one dropout mask. */
  nextSeed(): number;
}

/**
 * Apply one layer in inference mode, except dropout layers which sample a
 * mask when `sample` is set. Dropout draws its own mask with a fresh seed per
 * call: tfjs' Dropout reuses the layer's configured seed, which would give
 * every MC sample the same mask.
 */
function applyLayer(
  tf: typeof tfType,
  layer: tfType.layers.Layer,
  inputs: tfType.Tensor[],
  sample: boolean,
  random: DropoutRandom
): tfType.Tensor[] {
  const name = layer.getClassName();
  if (DROPOUT_CLASS_NAMES.has(name)) {
    const x = inputs[0];
    const shape = x.shape as number[];
    if (!sample || !isActiveDropout(layer)) {
      return [x.clone()];
    }
    const config = layer.getConfig() as { rate: number; noiseShape?: (number | null)[] | null };
    if (name === 'Dropout' || name === 'SpatialDropout1D') {
      let noiseShape: number[] | undefined;
      if (name === 'SpatialDropout1D') {
        noiseShape = [shape[0], 1, shape[2]];
      } else if (config.noiseShape) {
        noiseShape = config.noiseShape.map((d, i) => (d === null ? shape[i] : d));
      }
      return [tf.dropout(x, config.rate, noiseShape, random.nextSeed())];
    }
    // GaussianDropout / AlphaDropout: their own training-mode call touches only themselves.
    return [layer.call(x, { training: true }) as tfType.Tensor];
  }
  const out = layer.call(inputs.length === 1 ? inputs[0] : inputs, { training: false });
  return Array.isArray(out) ? out : [out];
}

/**
 * Run `nodes` given concrete tensors for some symbolic ids; returns the
 * tensors of `keep`. Intermediates are disposed as soon as their last reader
 * has run, so peak memory stays near the widest cut of the graph.
 */
export function runNodes(
  tf: typeof tfType,
  nodes: GraphNode[],
  feeds: Map<number, tfType.Tensor>,
  keep: number[],
  sample: boolean,
  random: DropoutRandom
): Map<number, tfType.Tensor> {
  const remainingReads = new Map<number, number>();
  for (const node of nodes) {
    for (const t of node.inputTensors) {
      remainingReads.set(t.id, (remainingReads.get(t.id) ?? 0) + 1);
    }
  }
  const keepSet = new Set(keep);
  const values = new Map<number, tfType.Tensor>(feeds);
  const owned = new Set<number>();
  try {
    for (const node of nodes) {
      const inputs = node.inputTensors.map(t => {
        const v = values.get(t.id);
        if (!v) {
          throw new Error(`graph input ${t.name} of layer ${node.outboundLayer.name} was not computed`);
        }
        return v;
      });
      const outputs = applyLayer(tf, node.outboundLayer, inputs, sample, random);
      node.outputTensors.forEach((t, i) => {
        values.set(t.id, outputs[i]);
        owned.add(t.id);
      });
      for (const t of node.inputTensors) {
        const left = (remainingReads.get(t.id) ?? 1) - 1;
        remainingReads.set(t.id, left);
        if (left === 0 && owned.has(t.id) && !keepSet.has(t.id)) {
          values.get(t.id)!.dispose();
          values.delete(t.id);
          owned.delete(t.id);
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
