#!/usr/bin/env bash
# Distributed testing (DDP through mmengine's launcher), as mmdet3d's tools/dist_test.sh:
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py arguments...]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash tools/dist_test.sh CONFIG CKPT 8 ...
#
# GPUS processes per node with torchrun; on a machine without CUDA, gloo on CPU (see
# dist_launch.sh).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/dist_launch.sh" test.py "$3" "$1" "$2" "${@:4}"
