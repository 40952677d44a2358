#!/usr/bin/env bash
# Runs one of tools/{train,test}.py as NPROC DDP processes per node with torchrun (mmengine's
# PyTorch launcher). Without CUDA the processes use the gloo backend (the configs say nccl) on
# CPU modules (no device ids), so the same command runs a CPU-only machine's DDP. Called by
# dist_train.sh and dist_test.sh:
#
#   bash tools/dist_launch.sh train.py|test.py NPROC [tool arguments...]
set -euo pipefail
TOOL=$1
NPROC=$2
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
  --master_addr="$MASTER_ADDR" --master_port="$PORT" --nproc_per_node="$NPROC" \
  "$ROOT/tools/$TOOL" "${@:3}" --launcher pytorch "${BACKEND[@]}"
