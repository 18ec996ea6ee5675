/**
 * Which inputs of an op are lists, read from TensorFlow's own OpDef (a protocol buffer the addon
 * returns): eager execution takes inputs as one flat list, a graph needs them grouped by argument.
 * Only the fields needed are decoded (OpDef.input_arg = 2; ArgDef.name = 1, number_attr = 5,
 * type_list_attr = 6), with a minimal reader of the wire format.
 */
import type { OpAttr } from './addon';

export interface InputArg {
  name: string;
  /** The int attribute that counts this list input (`N`), if it is one. */
  numberAttr?: string;
  /** The type-list attribute whose length counts this list input, if it is one. */
  typeListAttr?: string;
}

/** The input arguments of an op, in order. */
export function readInputArgs(opDef: Uint8Array): InputArg[] {
  const args: InputArg[] = [];
  for (const field of readFields(opDef)) {
    if (field.number !== 2 || !field.bytes) continue;
    const arg: InputArg = { name: '' };
    for (const inner of readFields(field.bytes)) {
      if (!inner.bytes) continue;
      const text = new TextDecoder().decode(inner.bytes);
      if (inner.number === 1) arg.name = text;
      if (inner.number === 5 && text) arg.numberAttr = text;
      if (inner.number === 6 && text) arg.typeListAttr = text;
    }
    args.push(arg);
  }
  return args;
}

/**
 * Splits a flat eager input list into per-argument groups: a count for each argument (list
 * arguments take theirs from the attributes, or whatever the single-input arguments leave over).
 */
export function groupInputs<T>(
  args: readonly InputArg[],
  attrs: readonly OpAttr[],
  inputs: readonly T[],
): (T | T[])[] {
  const isList = (a: InputArg) => Boolean(a.numberAttr ?? a.typeListAttr);
  const counts = args.map((a) => (isList(a) ? listCount(a, attrs) : 1));
  const unknown = counts.filter((c) => c === undefined).length;
  if (unknown > 1) throw new Error(`cannot group ${inputs.length} inputs: several list lengths are unknown`);
  const known = counts.reduce<number>((sum, c) => sum + (c ?? 0), 0);
  const sizes = counts.map((c) => c ?? inputs.length - known);
  if (sizes.reduce((a, b) => a + b, 0) !== inputs.length)
    throw new Error(
      `${inputs.length} inputs do not fit the op's arguments (${args.map((a) => a.name).join(', ')})`,
    );
  let at = 0;
  return args.map((arg, i) => {
    const group = inputs.slice(at, at + (sizes[i] as number));
    at += sizes[i] as number;
    return isList(arg) ? group : (group[0] as T);
  });
}

function listCount(arg: InputArg, attrs: readonly OpAttr[]): number | undefined {
  const attr = attrs.find((a) => a.name === (arg.numberAttr ?? arg.typeListAttr));
  if (!attr) return undefined;
  return arg.numberAttr ? Number(attr.value) : (attr.value as unknown[]).length;
}

interface Field {
  number: number;
  bytes?: Uint8Array;
}

function readFields(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  let at = 0;
  const varint = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = buf[at++];
      if (byte === undefined) throw new Error('truncated OpDef');
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      shift += 7;
    }
  };
  while (at < buf.length) {
    const key = varint();
    const wire = key % 8;
    const number = Math.floor(key / 8);
    if (wire === 0) varint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const length = varint();
      fields.push({ number, bytes: buf.subarray(at, at + length) });
      at += length;
    } else throw new Error(`OpDef: unsupported wire type ${wire}`);
  }
  return fields;
}
