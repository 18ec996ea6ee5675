"""Keras 3 peer of durable-fit's built-in tasks, for the bench's `peer` section (bench/peer.ts).

Trains the same architecture as the task of that name (src/training/tasks) on the very arrays the
task's loadDataset produced (exported by the bench as little-endian float32), with `model.fit`, batch
32, Adam, softmax cross-entropy from logits; prints one JSON line per variant with the wall time and
step count of every epoch (training plus the validation pass, as durable-fit's epoch activity does).
Variants: `plain` (model.fit alone) and `backup` (plus keras.callbacks.BackupAndRestore saving every
`--backup-every` batches: the durable Keras a user would otherwise run).

Thread and determinism settings come from the environment the bench sets (TF_NUM_INTRAOP_THREADS,
TF_NUM_INTEROP_THREADS, TF_DETERMINISTIC_OPS, TF_ENABLE_ONEDNN_OPTS); the thread counts are also set
through tf.config before any op runs, as a Keras user would.
"""

import argparse
import json
import math
import os
import shutil
import tempfile
import time

import numpy as np
import tensorflow as tf

tf.config.threading.set_inter_op_parallelism_threads(int(os.environ.get("TF_NUM_INTEROP_THREADS", "1")))
tf.config.threading.set_intra_op_parallelism_threads(int(os.environ.get("TF_NUM_INTRAOP_THREADS", "2")))

import keras  # noqa: E402  (after the thread settings: they must precede any op)
from keras import layers  # noqa: E402


def he(seed):
    return keras.initializers.HeNormal(seed=seed)


def logits(seed):
    return layers.Dense(10, name="logits", kernel_initializer=keras.initializers.GlorotUniform(seed=seed))


def mnist_mlp(h, seed):
    # 784 → hidden (relu) → dropout → 10, as mnistMlpTask.
    body = [layers.Dense(h["hidden"], activation="relu", kernel_initializer=he(seed), name="hidden")]
    if h["dropout"] > 0:
        body.append(layers.Dropout(h["dropout"], name="dropout"))
    return keras.Sequential([keras.Input((784,)), *body, logits(seed + 1)], name="mnist_mlp")


def mnist_cnn(h, seed):
    # Two conv (3x3, valid, relu) / max-pool 2 blocks → flatten → dropout → 10, as mnistCnnTask.
    f = h["filters"]
    body = [
        layers.Conv2D(f, 3, activation="relu", kernel_initializer=he(seed), name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(2 * f, 3, activation="relu", kernel_initializer=he(seed + 1), name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
    ]
    if h["dropout"] > 0:
        body.append(layers.Dropout(h["dropout"], name="dropout"))
    return keras.Sequential([keras.Input((28, 28, 1)), *body, logits(seed + 2)], name="mnist_cnn")


def digits_resnet(h, seed):
    # stem → 2 residual blocks → stride-2 conv → 1 residual block → global average pool → 10.
    seeds = iter(range(seed, seed + 100))

    def conv(name, filters, strides=1, activation="relu"):
        return layers.Conv2D(filters, 3, strides=strides, padding="same", activation=activation,
                             kernel_initializer=he(next(seeds)), name=name)

    def block(x, name, filters):
        y = conv(f"{name}_b", filters, activation="linear")(conv(f"{name}_a", filters)(x))
        return layers.Activation("relu", name=f"{name}_relu")(layers.Add(name=f"{name}_add")([x, y]))

    w = h["width"]
    inputs = keras.Input((28, 28, 1), name="image")
    x = conv("stem", w)(inputs)
    x = block(x, "res1", w)
    x = block(x, "res2", w)
    x = conv("down", 2 * w, strides=2)(x)
    x = block(x, "res3", 2 * w)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, logits(next(seeds))(x), name="digits_resnet")


MODELS = {"mnist-mlp": mnist_mlp, "mnist-cnn": mnist_cnn, "digits-resnet": digits_resnet}


def load(path, meta):
    """x_train, y_train, x_val, y_val, stored back to back in that order."""
    flat = np.fromfile(path, dtype="<f4")
    shapes = [
        (meta["trainSize"], *meta["inputShape"]),
        (meta["trainSize"], *meta["labelShape"]),
        (meta["valSize"], *meta["inputShape"]),
        (meta["valSize"], *meta["labelShape"]),
    ]
    arrays, at = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        arrays.append(flat[at:at + n].reshape(shape))
        at += n
    assert at == flat.size, f"{path}: {flat.size} floats, expected {at}"
    return arrays


class EpochTimer(keras.callbacks.Callback):
    """Wall time per epoch. Epoch hooks only: a batch hook would make Keras sync after every step."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def run(args, variant, data):
    x, y, xv, yv = data
    keras.utils.set_random_seed(args.seed)
    h = json.loads(args.hparams)
    model = MODELS[args.task](h, args.seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=h["learningRate"]),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    timer = EpochTimer()
    callbacks, backup_dir = [timer], None
    if variant == "backup":
        backup_dir = tempfile.mkdtemp(prefix="dfit-peer-backup-")
        callbacks.insert(0, keras.callbacks.BackupAndRestore(backup_dir, save_freq=args.backup_every))
    try:
        model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, validation_data=(xv, yv),
                  validation_batch_size=args.val_batch_size, shuffle=True, callbacks=callbacks,
                  verbose=0)
    finally:
        if backup_dir:
            shutil.rmtree(backup_dir, ignore_errors=True)
    steps = math.ceil(len(x) / args.batch_size)
    return {
        "variant": variant,
        "epochs": [{"seconds": s, "steps": steps} for s in timer.seconds],
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "jitCompile": bool(model.jit_compile),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", required=True, choices=sorted(MODELS))
    p.add_argument("--hparams", required=True, help="the task's hparams, defaults filled in (JSON)")
    p.add_argument("--data", required=True, help="float32 file: x_train, y_train, x_val, y_val")
    p.add_argument("--meta", required=True, help="JSON: trainSize, valSize, inputShape, labelShape")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--val-batch-size", type=int, default=512, help="durable-fit validates in chunks of 512")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--backup-every", type=int, default=40)
    p.add_argument("--variants", default="plain,backup")
    args = p.parse_args()
    data = load(args.data, json.loads(args.meta))
    for variant in args.variants.split(","):
        print(json.dumps(run(args, variant, data)), flush=True)


if __name__ == "__main__":
    main()
