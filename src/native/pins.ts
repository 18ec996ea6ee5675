/**
 * The pinned native TensorFlow build: which tfjs-node package, which PyPI wheels supply
 * libtensorflow, and their SHA-256. This is the one place to change them; the cache is keyed by
 * these versions, so a bump rebuilds once.
 */

/** One wheel fetched with `pip download --no-deps`. */
export interface WheelPin {
  /** pip requirement, e.g. `tensorflow-cpu==2.21.0`. */
  requirement: string;
  /**
   * SHA-256 of the wheel file. `undefined` only for the opt-in GPU wheels, which could not be
   * downloaded to pin them here: their hashes are recorded at first build (see docs/native.md).
   */
  sha256?: string;
}

export type NativeFlavor = 'cpu' | 'gpu';

export interface NativeBuildSpec {
  flavor: NativeFlavor;
  /** npm package whose addon is built (its JS comes from `npm ci`; its install script is denied). */
  package: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu';
  /** Version of that package (must equal package.json's). */
  tfjsVersion: string;
  /** TensorFlow version of the libraries (recorded in every checkpoint's backend). */
  tfVersion: string;
  /** The wheel with `tensorflow/libtensorflow_cc.so.2`, then any it needs at run time (CUDA). */
  wheels: readonly WheelPin[];
}

/** Python ABI and platform tags for `pip download`: the libraries don't link libpython. */
export const PIP_TARGET = {
  pythonVersion: '3.11',
  platforms: ['manylinux_2_27_x86_64', 'manylinux2014_x86_64'],
} as const;

export const TFJS_NODE_VERSION = '4.22.0';
export const TF_VERSION = '2.21.0';

export const CPU_BUILD: NativeBuildSpec = {
  flavor: 'cpu',
  package: '@tensorflow/tfjs-node',
  tfjsVersion: TFJS_NODE_VERSION,
  tfVersion: TF_VERSION,
  wheels: [
    {
      requirement: `tensorflow-cpu==${TF_VERSION}`,
      sha256: '2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c',
    },
  ],
};

/**
 * CUDA 12 build: the `tensorflow` wheel plus the `nvidia-*-cu12` wheels its `and-cuda` extra names.
 * Their folder layout is kept (`tensorflow/`, `nvidia/<lib>/lib`) because libtensorflow finds
 * CUDA through runpaths relative to it. Untested on a GPU (see docs/native.md).
 */
export const GPU_BUILD: NativeBuildSpec = {
  flavor: 'gpu',
  package: '@tensorflow/tfjs-node-gpu',
  tfjsVersion: TFJS_NODE_VERSION,
  tfVersion: TF_VERSION,
  wheels: [{ requirement: `tensorflow[and-cuda]==${TF_VERSION}` }],
};

export function buildSpec(flavor: NativeFlavor): NativeBuildSpec {
  return flavor === 'gpu' ? GPU_BUILD : CPU_BUILD;
}

/** Headers the addon includes, as wheel paths under `tensorflow/include/` (the `tsl/` folders vary by TF version). */
export const HEADER_GLOBS: readonly string[] = [
  'tensorflow/include/tensorflow/c/*',
  'tensorflow/include/tsl/platform/ctstring*',
  'tensorflow/include/tensorflow/core/platform/ctstring*',
  'tensorflow/include/xla/tsl/c/*',
  'tensorflow/include/tsl/c/*',
];

/** The two libraries from the wheel, and the names the addon links / tfjs-node's scripts look for. */
export const LIBRARIES = {
  cc: 'libtensorflow_cc.so.2',
  framework: 'libtensorflow_framework.so.2',
  aliases: {
    'libtensorflow.so': 'libtensorflow_cc.so.2',
    'libtensorflow.so.2': 'libtensorflow_cc.so.2',
    'libtensorflow.so.2.9.1': 'libtensorflow_cc.so.2',
    'libtensorflow_framework.so': 'libtensorflow_framework.so.2',
    'libtensorflow_framework.so.2.9.1': 'libtensorflow_framework.so.2',
  },
} as const;
