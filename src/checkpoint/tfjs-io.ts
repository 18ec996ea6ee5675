/**
 * `tf.io` handlers for `s3://…/*.ckpt` URLs, so `model.save('s3://…')` and
 * `tf.loadLayersModel('s3://…')` go through the checkpoint I/O port (create-only, hash-verified).
 * A saved model is a `.ckpt` of kind `model`: weights as tensors `model/<weight name>`, topology and
 * weight specs in `__metadata__`. Loading also accepts a training-state checkpoint, whose topology
 * and `model/` tensors describe the same model.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '../state';
import { MODEL_PREFIX, safetensorsDType, tfjsDType } from '../state';
import { DTYPE_SIZES } from './dtypes';
import { CheckpointCorruptError, InvalidCheckpointStateError, NotACkptError } from './errors';
import { decodeContainer, encodeContainerParts } from './format';
import { checkMarker, markerMetadata, parseExact, stringifyExact } from './meta-codec';
import { verifyPayloadSha256 } from './payload-hash';
import type { CheckpointIO, SavedCheckpoint } from './checkpoint-io';

/** An `IOHandler` that saves to / loads from one `s3://…/*.ckpt` URL through `store`. */
export function createS3IOHandler(
  store: CheckpointIO,
  url: string,
): tf.io.IOHandler & { saved?: SavedCheckpoint } {
  const handler: tf.io.IOHandler & { saved?: SavedCheckpoint } = {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      handler.saved = await store.saveEncoded(url, encodeModelArtifacts(artifacts));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      return decodeModelArtifacts(await store.loadBytes(url), url);
    },
  };
  return handler;
}

let routedStore: CheckpointIO | undefined;

/**
 * Routes `s3://` URLs in `model.save` / `tf.loadLayersModel` to `store`. tfjs keeps routers in a
 * process-wide registry, so the routers are registered once and later calls only swap the store.
 */
export function registerS3IOHandlers(store: CheckpointIO): void {
  const first = routedStore === undefined;
  routedStore = store;
  if (!first) return;
  // tfjs's IORouter type says IOHandler, but the registry skips routers that return null.
  const route = ((url: string | string[]) => {
    const one = Array.isArray(url) ? url[0] : url;
    return routedStore && typeof one === 'string' && one.startsWith('s3://')
      ? createS3IOHandler(routedStore, one)
      : null;
  }) as unknown as Parameters<typeof tf.io.registerSaveRouter>[0];
  tf.io.registerSaveRouter(route);
  tf.io.registerLoadRouter(route);
}

/** Model artifacts → `.ckpt` chunks (kind `model`). */
export function encodeModelArtifacts(
  artifacts: tf.io.ModelArtifacts,
): ReturnType<typeof encodeContainerParts> {
  if (!artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer) {
    throw new InvalidCheckpointStateError('tf.io save needs a JSON model topology (a LayersModel)');
  }
  const specs = artifacts.weightSpecs ?? [];
  const data = new Uint8Array(
    artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0),
  );
  const tensors: NamedTensor[] = [];
  let offset = 0;
  for (const spec of specs) {
    const dtype = safetensorsDType(spec.dtype);
    if (!dtype || spec.quantization) {
      throw new InvalidCheckpointStateError(
        `weight ${spec.name} has dtype ${spec.dtype}${spec.quantization ? ' (quantized)' : ''}`,
      );
    }
    const bytes = spec.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZES[dtype];
    tensors.push({
      name: MODEL_PREFIX + spec.name,
      dtype,
      shape: spec.shape,
      data: data.subarray(offset, offset + bytes),
    });
    offset += bytes;
  }
  if (offset !== data.length)
    throw new InvalidCheckpointStateError(`weight data has ${data.length} bytes, specs need ${offset}`);
  const { modelTopology, trainingConfig, format, generatedBy, convertedBy, userDefinedMetadata } = artifacts;
  const extras = { format, generatedBy, convertedBy, trainingConfig, userDefinedMetadata };
  return encodeContainerParts(tensors, {
    ...markerMetadata('model'),
    topology: stringifyExact(modelTopology) as string,
    weight_specs: JSON.stringify(specs.map(({ name, shape, dtype }) => ({ name, shape, dtype }))),
    tfjs_artifacts: JSON.stringify(extras),
  });
}

/** `.ckpt` bytes (kind `model` or `training-state`) → model artifacts. */
export function decodeModelArtifacts(bytes: Uint8Array, url: string): tf.io.ModelArtifacts {
  const { tensors, metadata, header } = decodeContainer(bytes);
  const kind = metadata.kind === 'model' ? 'model' : 'training-state';
  verifyPayloadSha256(header, bytes, url, checkMarker(metadata, kind, url) >= 2);
  const topology = parseField(metadata.topology, 'topology', url) as object;
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const specs: tf.io.WeightsManifestEntry[] =
    kind === 'model'
      ? (parseField(metadata.weight_specs, 'weight_specs', url) as tf.io.WeightsManifestEntry[])
      : tensors.filter((t) => t.name.startsWith(MODEL_PREFIX)).map((t) => specOf(t, url));
  const chunks = specs.map((spec) => {
    const tensor = byName.get(MODEL_PREFIX + spec.name);
    if (!tensor) throw new CheckpointCorruptError('bad-metadata', `weight ${spec.name} has no tensor`, url);
    return tensor.data;
  });
  const weightData = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((at, c) => (weightData.set(c, at), at + c.length), 0);
  const extras =
    kind === 'model' ? (parseField(metadata.tfjs_artifacts, 'tfjs_artifacts', url) as object) : {};
  return { ...extras, modelTopology: topology, weightSpecs: specs, weightData: weightData.buffer };
}

function specOf(t: NamedTensor, url: string): tf.io.WeightsManifestEntry {
  const dtype = tfjsDType(t.dtype);
  if (!dtype)
    throw new NotACkptError(url, `model weight ${t.name} has dtype ${t.dtype}, which tfjs cannot load`);
  return {
    name: t.name.slice(MODEL_PREFIX.length),
    shape: t.shape,
    dtype: dtype as 'float32' | 'int32' | 'bool',
  };
}

function parseField(text: string | undefined, field: string, url: string): unknown {
  try {
    if (text === undefined) throw new Error('missing');
    return parseExact(text);
  } catch {
    throw new CheckpointCorruptError('bad-metadata', `__metadata__.${field} is missing or not JSON`, url);
  }
}
