"""Keras 3's traced training step, op by op: the peer side of bench/profile-step.ts (issue 20).

Builds the same model as our task (src/training/tasks/mnist-tasks.ts), trains it with
`model.fit` (batch 32, Adam 1e-3, softmax cross-entropy from logits) under durable-fit's native
settings (TF_DETERMINISTIC_OPS=1, inter-op 1, intra-op 2), times it, then profiles a few steps with
TensorFlow's profiler and lists the kernels the traced step ran: per op type, calls and µs per
step. The op types are the kernels after Grappler and oneDNN's graph rewrite
(`_MklNativeFusedConv2D`, `_FusedMatMul`, ...), so the list says which ones the rewrite picked.

    python bench/peer/profile_keras.py --task mnist-cnn [--hparam filters=32] [--steps 50]
        [--time-steps 300] [--onednn 0|1] [--intra 2] [--json out.json]

Needs `tensorflow-cpu==2.21.0` (Keras 3 comes with it); the data is random (timing does not
depend on the values). Settings are read from flags and written to the environment before
TensorFlow loads, since TF reads them once.
"""

import argparse
import glob
import json
import os
import re
import sys
import tempfile
import time
from collections import defaultdict


WARMUP_STEPS = 10
SHOWN_HPARAMS = {
    "mnist-cnn": ["filters", "dropout"],
    "mnist-mlp": ["hidden", "dropout"],
    "digits-resnet": ["width"],
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="mnist-cnn", choices=["mnist-cnn", "mnist-mlp", "digits-resnet"])
    p.add_argument("--hparam", action="append", default=[], help="name=value, as in our CLI")
    p.add_argument("--steps", type=int, default=40, help="profiled steps (at most 70: see report_profile)")
    p.add_argument("--time-steps", type=int, default=300, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds (median reported)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--onednn", choices=["0", "1"], default=None, help="TF_ENABLE_ONEDNN_OPTS")
    p.add_argument("--intra", type=int, default=2, help="intra-op threads")
    p.add_argument("--top", type=int, default=25, help="op types listed")
    p.add_argument("--no-profile", action="store_true", help="time only")
    p.add_argument("--json", help="also write the results to this file")
    return p.parse_args()


def apply_env(args):
    env = {
        "TF_DETERMINISTIC_OPS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": str(args.intra),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    if args.onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = args.onednn
    os.environ.update(env)


def hparams_of(args):
    h = {"filters": 8, "hidden": 128, "dropout": 0.2, "width": 16}  # the tasks' defaults
    for item in args.hparam:
        name, _, value = item.partition("=")
        h[name] = float(value) if "." in value else int(value)
    return h


def build_model(task, h):
    """The task's architecture from keras_peer (the bench's peer section), compiled as it does."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import keras
    from keras_peer import MODELS  # after apply_env: it sets TF's thread counts on import

    model = MODELS[task](h, 1)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    return model


def make_data(tf, np, task, batch, steps):
    rng = np.random.default_rng(1)
    shape = (784,) if task == "mnist-mlp" else (28, 28, 1)
    n = batch * min(steps, 64)
    x = rng.random((n, *shape), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch, drop_remainder=True).repeat()


def time_fit(model, ds, steps, rounds):
    """Median steps/s and CPU ms per step (process time, all threads: less sensitive to other load)."""
    rates, cpu = [], []
    for _ in range(rounds):
        start, cpu_start = time.perf_counter(), time.process_time()
        model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
        rates.append(steps / (time.perf_counter() - start))
        cpu.append((time.process_time() - cpu_start) * 1000 / steps)
    return sorted(rates)[len(rates) // 2], sorted(cpu)[len(cpu) // 2], rates


def profile_fit(tf, model, ds, steps):
    """Runs `steps` steps under TF's profiler; returns the path of the .xplane.pb it wrote."""
    logdir = tempfile.mkdtemp(prefix="keras-profile-")
    options = tf.profiler.experimental.ProfilerOptions(host_tracer_level=3, python_tracer_level=0)
    tf.profiler.experimental.start(logdir, options=options)
    start = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    wall = time.perf_counter() - start
    tf.profiler.experimental.stop()
    found = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
    if not found:
        raise RuntimeError(f"the profiler wrote no .xplane.pb under {logdir}")
    return found[0], wall


OP_EVENT = re.compile(r"^(?P<node>[^\s:]+):(?P<type>[A-Z_][A-Za-z0-9_]*)$")


def phase_of(node, model_name):
    """Which part of the step a node of Keras's traced graph belongs to, by its name scope."""
    if "gradient_tape/" in node:
        return "backward"
    if "/adam/" in node or node.startswith("adam/"):
        return "optimizer"
    if "compile_loss/" in node:
        return "loss"
    if f"/{model_name}" in node or node.startswith(model_name):
        return "forward"
    return "other"


def op_table(xplane_path, steps, model_name):
    """Per op type, per phase and per (phase, op type): calls and µs per step, from the op events.

    TF's executor names each op event `<node name>:<op type>` (the type after Grappler and oneDNN's
    rewrite); the work nested inside an op (Eigen, oneDNN) carries other names and is not counted
    twice. Also returns the function's run time per step (`KernelAndDeviceFunc::Run`: the whole
    graph call, op times plus the executor's own work).
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(xplane_path, "rb") as f:
        space.ParseFromString(f.read())
    per_type = defaultdict(lambda: [0, 0])
    per_phase = defaultdict(lambda: [0, 0])
    per_phase_type = defaultdict(lambda: [0, 0])
    function_ps = 0
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if name == "KernelAndDeviceFunc::Run":
                    function_ps += event.duration_ps
                match = OP_EVENT.match(name)
                if not match:
                    continue
                phase, op = phase_of(match["node"], model_name), match["type"]
                keys = ((per_type, op), (per_phase, phase), (per_phase_type, f"{phase} {op}"))
                for table, key in keys:
                    table[key][0] += 1
                    table[key][1] += event.duration_ps

    def rows_of(table, label):
        rows = [
            {label: key, "callsPerStep": calls / steps, "usPerStep": ps / 1e6 / steps}
            for key, (calls, ps) in table.items()
        ]
        return sorted(rows, key=lambda r: -r["usPerStep"])

    tables = rows_of(per_type, "op"), rows_of(per_phase, "phase"), rows_of(per_phase_type, "phaseOp")
    return (*tables, function_ps / 1e6 / steps)


def print_table(rows, key, top):
    total = sum(r["usPerStep"] for r in rows)
    print(f"{key:44} {'calls/step':>10} {'µs/step':>10} {'share':>7}")
    for r in rows[:top]:
        print(f"{r[key]:44} {r['callsPerStep']:10.1f} {r['usPerStep']:10.1f} {r['usPerStep'] / total:7.1%}")
    rest = rows[top:]
    if rest:
        us = sum(r["usPerStep"] for r in rest)
        calls = sum(r["callsPerStep"] for r in rest)
        print(f"{f'({len(rest)} other)':44} {calls:10.1f} {us:10.1f} {us / total:7.1%}")
    print(f"{'all ops':44} {sum(r['callsPerStep'] for r in rows):10.1f} {total:10.1f}")


def report_profile(tf, model, ds, args, result):
    """Profiles right after the warm-up: after ~80-130 runs TF's executor has measured which ops are
    cheap and stops tracing them one by one (their time then shows only in the function call), so
    a later profile lists the ~20 expensive kernels and none of the ~200 cheap ones."""
    if WARMUP_STEPS + args.steps > 80:
        note = f"warning: {WARMUP_STEPS}+{args.steps} steps: cheap ops may drop out of the trace"
        print(note, file=sys.stderr)
    path, wall = profile_fit(tf, model, ds, args.steps)
    ops, phases, phase_ops, function_us = op_table(path, args.steps, model.name)
    wall_us = wall / args.steps * 1e6
    print(f"\nprofiled {args.steps} steps (profiler on: slower than without): {wall_us:.0f} µs/step wall")
    ops_us = sum(r["usPerStep"] for r in ops)
    print(f"graph function call {function_us:.0f} µs/step; ops {ops_us:.0f} µs/step\n")
    print_table(ops, "op", args.top)
    print()
    print_table(phases, "phase", args.top)
    print("\nkernels (op types) run:", " ".join(sorted(r["op"] for r in ops)))
    result.update(ops=ops, phases=phases, opsByPhase=phase_ops, functionUsPerStep=function_us)
    result.update(profiledWallUsPerStep=wall_us)


def main():
    args = parse_args()
    apply_env(args)
    import numpy as np
    import tensorflow as tf
    import keras

    # keras_peer sets these too on import; set here as well so the order does not matter.
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(args.intra)
    h = hparams_of(args)
    model = build_model(args.task, h)
    ds = make_data(tf, np, args.task, args.batch, max(args.steps, args.time_steps))
    model.fit(ds, epochs=1, steps_per_epoch=WARMUP_STEPS, verbose=0)  # trace and warm up
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset (TF default: on for x86)")
    shown = {k: h[k] for k in SHOWN_HPARAMS[args.task]}
    print(
        f"{args.task} {shown} TF {tf.__version__} keras {keras.__version__} "
        f"TF_ENABLE_ONEDNN_OPTS={onednn} intra-op {args.intra}"
    )
    result = {"task": args.task, "hparams": h, "onednn": onednn, "intra": args.intra}
    if not args.no_profile:
        report_profile(tf, model, ds, args, result)
    median, cpu_ms, rates = time_fit(model, ds, args.time_steps, args.rounds)
    each = ", ".join(f"{r:.1f}" for r in rates)
    print(f"\nmodel.fit, no profiler: {median:.1f} steps/s, {cpu_ms:.2f} CPU ms/step (rounds: {each})")
    result.update(stepsPerSec=median, cpuMsPerStep=cpu_ms, rounds=rates)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
