/**
 * The one data converter option that turns payload encryption on for a worker, a client, the CLI
 * and the plugin alike: the AES-GCM codec plus a failure converter that encrypts failure messages.
 * Undefined when no keys are configured (the local stack's default: payloads in clear text).
 */
import type { DataConverter } from '@temporalio/common';
import { AesGcmPayloadCodec, MissingKeysCodec } from './codec';
import type { EncryptionKey, EncryptionKeySource } from './keys';
import { loadEncryptionKeys } from './keys';

/** Path of the module that exports the encrypting `failureConverter` (bundled into workflows). */
export const ENCRYPTING_FAILURE_CONVERTER = require.resolve('./codec-failure-converter');

/** A data converter that encrypts every payload with `keys[0]` and decrypts with any of `keys`. */
export function encryptionDataConverter(keys: readonly EncryptionKey[]): DataConverter {
  return {
    payloadCodecs: [new AesGcmPayloadCodec(keys)],
    failureConverterPath: ENCRYPTING_FAILURE_CONVERTER,
  };
}

/** The data converter for the configured keys (file or env), or undefined when encryption is off. */
export function dataConverterFor(options: {
  encryptionKeysFile?: string;
  encryptionKeys?: string;
}): DataConverter | undefined {
  const source: EncryptionKeySource = {
    ...(options.encryptionKeysFile ? { file: options.encryptionKeysFile } : {}),
    ...(options.encryptionKeys ? { inline: options.encryptionKeys } : {}),
  };
  const keys = loadEncryptionKeys(source);
  return keys ? encryptionDataConverter(keys) : undefined;
}

/**
 * What durable-fit's own worker and client use: the encrypting converter with keys; without them,
 * clear payloads and a clear error (which setting is missing) for an encrypted one, instead of the
 * SDK's "Unknown encoding". Hosts with codecs of their own use `dataConverterFor`, which adds nothing
 * when encryption is off.
 */
export function processDataConverter(options: Parameters<typeof dataConverterFor>[0]): DataConverter {
  return dataConverterFor(options) ?? { payloadCodecs: [new MissingKeysCodec()] };
}
