/** A graph-build rewrite: the ReLU gradient as one TensorFlow op (see trace-kernels.ts). */
import type { OpNode, RecordedNode } from './recorder';
import type { Trace } from './trace';

/**
 * `Mul(dy, Cast(Greater(x, 0)))` (a Cast or two), the ReLU gradient as the traced Step kernel leaves it
 * (trace-kernels.ts), as TensorFlow's one `ReluGrad(dy, x)`; undefined for any other node.
 */
export function reluGradOf(
  node: OpNode,
  producers: Map<number, RecordedNode>,
  trace: Trace,
): Pick<OpNode, 'type' | 'attrs' | 'inputs'> | undefined {
  if (node.type !== 'Mul' || node.inputs.length !== 2) return undefined;
  for (const [dy, mask] of [node.inputs, [...node.inputs].reverse()] as [number, number][]) {
    // Relu's own gradient casts the mask once more (float to float): skip every Cast.
    let greater = producers.get(mask);
    let casts = 0;
    while (greater?.kind === 'op' && greater.type === 'Cast') {
      greater = producers.get(greater.inputs[0] as number);
      casts += 1;
    }
    if (casts === 0 || greater?.kind !== 'op' || greater.type !== 'Greater') continue;
    const zero = producers.get(greater.inputs[1] as number);
    const isZero =
      zero?.kind === 'create' &&
      trace.roles.get(zero.id)?.kind === 'const' &&
      zero.values.length === 1 &&
      zero.values[0] === 0;
    if (isZero) return { type: 'ReluGrad', attrs: node.attrs, inputs: [dy, greater.inputs[0] as number] };
  }
  return undefined;
}
