/** The native TensorFlow backend build (tfjs-node on libtensorflow from the PyPI wheel). */
export { ensureNativeBuild } from './build';
export type { NativeBuildOptions, NativeBuildResult } from './build';
export { nativeCacheRoot } from './cache';
export type { NativeManifest } from './cache';
export { nativeStatus, probeLoad } from './status';
export type { NativeFlavorStatus } from './status';
export { buildSpec, CPU_BUILD, GPU_BUILD, TF_VERSION, TFJS_NODE_VERSION } from './pins';
export type { NativeFlavor } from './pins';
