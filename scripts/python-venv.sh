#!/usr/bin/env sh
# Creates .venv (git-ignored) with safetensors and numpy for the Python interop test, when it is
# absent, and prints the path of its python. Safe to run concurrently: a lock serialises creators.
#   scripts/python-venv.sh          safetensors + numpy
#   scripts/python-venv.sh keras    also tensorflow-cpu (Keras 3) for the bench's peer section
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
py="$venv/bin/python"
ready="$venv/.durable-fit-ready"
# The same TensorFlow the native backend is built from (src/native), so both sides run one library.
keras_pin="tensorflow-cpu==2.21.0"
keras_ready="$venv/.durable-fit-keras-ready"
extra="${1:-}"
case "$extra" in
  '' | keras) ;;
  *) echo "usage: $0 [keras]" >&2 && exit 2 ;;
esac
if [ ! -f "$ready" ] || { [ "$extra" = keras ] && [ ! -f "$keras_ready" ]; }; then
  mkdir -p "$venv"
  exec 9>"$venv/.lock"
  flock 9
  if [ ! -f "$ready" ]; then
    python3 -m venv "$venv" >&2
    "$py" -m pip install --quiet --disable-pip-version-check safetensors numpy >&2
    touch "$ready"
  fi
  if [ "$extra" = keras ] && [ ! -f "$keras_ready" ]; then
    "$py" -m pip install --quiet --disable-pip-version-check "$keras_pin" >&2
    touch "$keras_ready"
  fi
fi
echo "$py"
