/**
 * The failure converter used when payload encryption is on: failure messages and stack traces move
 * into the failure's encoded attributes, so the payload codec encrypts them too. Loaded by path
 * (`failureConverterPath`) because the workflow sandbox bundles it: import nothing but
 * `@temporalio/common` here.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
