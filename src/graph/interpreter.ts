// The float64 reference interpreter: evaluates any IR graph on host tensors (the ground truth in tests).
import { GraphError, type Value } from './ir.js';
import { opDef } from './ops/index.js';
import { Tensor } from './tensor.js';

export type Feeds = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

function lookup(feeds: Feeds, name: string): Tensor | undefined {
  return feeds instanceof Map ? feeds.get(name) : (feeds as Readonly<Record<string, Tensor>>)[name];
}

/**
 * Evaluates `outputs` in float64. Inputs come from `feeds` by name; parameters default to their
 * initial values when not fed.
 */
export function evaluate(outputs: readonly Value[], feeds: Feeds = {}): Tensor[] {
  if (outputs.length === 0) return [];
  const g = outputs[0]!.graph;
  const env = new Map<number, Tensor>();
  for (const leaf of g.leavesFor(outputs)) {
    if (leaf.kind === 'const') env.set(leaf.id, leaf.data!);
    else {
      let t = lookup(feeds, leaf.name);
      if (!t && leaf.kind === 'param') {
        const p = g.params.get(leaf.name)!;
        t = Tensor.from('float32', leaf.shape as number[], p.init);
      }
      if (!t) throw new GraphError(`No feed for input ${leaf.name}`);
      env.set(leaf.id, t);
    }
  }
  for (const n of g.nodesFor(outputs)) {
    const res = opDef(n.op).ref(n.inputs.map((v) => env.get(v.id)!), n.attrs);
    n.outputs.forEach((o, i) => env.set(o.id, res[i]!));
  }
  return outputs.map((o) => env.get(o.id)!);
}
