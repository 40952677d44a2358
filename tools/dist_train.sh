#!/usr/bin/env bash
# Distributed training (DDP through mmengine's launcher), as mmdet3d's tools/dist_train.sh:
#
#   bash tools/dist_train.sh CONFIG GPUS [train.py arguments...]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash tools/dist_train.sh CONFIG 8 ...
#
# Runs GPUS processes per node with torchrun. Without CUDA the processes use the gloo backend
# (the configs say nccl) on CPU modules (no device ids), so the same command runs a CPU-only
# machine's DDP.
set -euo pipefail
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
BACKEND=()
if ! "$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
  BACKEND=(--cfg-options env_cfg.dist_cfg.backend=gloo model_wrapper_cfg.device_ids=None)
fi
exec "$PY" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" --master_port="$PORT" --nproc_per_node="$GPUS" \
  "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}" "${BACKEND[@]}"
