#!/usr/bin/env bash
# Distributed training (DDP through mmengine's launcher), as mmdet3d's tools/dist_train.sh:
#
#   bash tools/dist_train.sh CONFIG GPUS [train.py arguments...]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash tools/dist_train.sh CONFIG 8 ...
#
# GPUS processes per node with torchrun; on a machine without CUDA, gloo on CPU (see
# dist_launch.sh).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/dist_launch.sh" train.py "$2" "$1" "${@:3}"
