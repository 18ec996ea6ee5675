/**
 * `weightsSha256`: the identity of a model's weights, used by results and exactness tests.
 *
 * Definition: take every tensor whose name starts with `model/` (optimizer slots excluded), sort
 * them by name (JS string order; names are ASCII), and feed SHA-256, for each tensor in turn, the
 * UTF-8 text `<name>\n<dtype>\n<shape joined by ",">\n<byte length>\n` followed by its raw
 * little-endian bytes. The result is lowercase hex. Equal hashes mean bit-identical weights.
 */
import { createHash } from 'node:crypto';
import type { NamedTensor } from '../state';
import { MODEL_PREFIX } from '../state';

export function computeWeightsSha256(tensors: readonly NamedTensor[]): string {
  const hash = createHash('sha256');
  const weights = tensors.filter((t) => t.name.startsWith(MODEL_PREFIX));
  weights.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const t of weights) {
    hash.update(`${t.name}\n${t.dtype}\n${t.shape.join(',')}\n${t.data.byteLength}\n`, 'utf8');
    hash.update(t.data);
  }
  return hash.digest('hex');
}
