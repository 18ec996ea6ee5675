"""Reads a durable-fit .ckpt with the reference `safetensors` library and checks it against the JSON
our test wrote: tensor names, dtypes, shapes and values, and the metadata fields.

usage: read_ckpt.py <file.ckpt> <expected.json>; exits 0 when everything matches.
"""
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "U16": np.uint16, "U32": np.uint32,
    "U64": np.uint64, "BOOL": np.bool_,
}


def main(ckpt_path: str, expected_path: str) -> int:
    with open(expected_path, encoding="utf-8") as f:
        expected = json.load(f)
    tensors = load_file(ckpt_path)
    problems = []
    want_names = sorted(t["name"] for t in expected["tensors"])
    if sorted(tensors) != want_names:
        problems.append(f"names {sorted(tensors)} != {want_names}")
    for t in expected["tensors"]:
        got = tensors.get(t["name"])
        if got is None:
            continue
        want = np.array(t["values"], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
        if got.dtype != want.dtype or list(got.shape) != t["shape"]:
            problems.append(f"{t['name']}: {got.dtype}{list(got.shape)} != {want.dtype}{t['shape']}")
        elif not np.array_equal(got, want):
            problems.append(f"{t['name']}: values differ: {got.ravel()[:5]} vs {want.ravel()[:5]}")
    with safe_open(ckpt_path, framework="np") as f:
        metadata = f.metadata()
    for key, value in expected["metadata"].items():
        got = metadata.get(key)
        parsed = json.loads(got) if key not in ("format", "format_version", "kind") and got else got
        if parsed != value:
            problems.append(f"metadata {key}: {got!r} != {value!r}")
    for p in problems:
        print(f"MISMATCH {p}", file=sys.stderr)
    print(json.dumps({"tensors": len(tensors), "problems": len(problems)}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
