#!/usr/bin/env sh
# Creates .venv (git-ignored) with safetensors and numpy for the Python interop test, when it is
# absent, and prints the path of its python. Safe to run concurrently: a lock serialises creators.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
py="$venv/bin/python"
ready="$venv/.durable-fit-ready"
if [ ! -f "$ready" ]; then
  mkdir -p "$venv"
  exec 9>"$venv/.lock"
  flock 9
  if [ ! -f "$ready" ]; then
    python3 -m venv "$venv" >&2
    "$py" -m pip install --quiet --disable-pip-version-check safetensors numpy >&2
    touch "$ready"
  fi
fi
echo "$py"
