#!/usr/bin/env bash
# GPU check of the vision tools (one command, under 5 minutes, no downloads):
# CLIP image embeddings per second on CUDA vs CPU for a tiny and a ViT-B-16-sized random-init
# open_clip model (and the configured real model if any), and FAISS query latency at 100k entries.
# Usage: scripts/gpu_check_vision.sh   (PYTHON=... to choose the interpreter; default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
timeout 280 "$PY" - <<'PYEOF'
import sys
import time

import torch

sys.stdout.write(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}, "
                 f"CPU threads: {torch.get_num_threads()}\n")
start = time.perf_counter()
from geosleuth.core.config import Settings  # noqa: E402
from geosleuth.app.bench_vision import run  # noqa: E402

run(Settings(device="auto"))
sys.stdout.write(f"total {time.perf_counter() - start:.1f} s\n")
PYEOF
