#!/usr/bin/env bash
# The main job, end to end: set up -> data -> info files -> pre-train the image backbone on the
# training images -> train the BEVFusion teacher, the LiDAR-only model, the camera-only baseline
# and the SimDistill student (distilled from that teacher) -> evaluate each with the nuScenes
# devkit -> pictures -> a results table. Every step is skipped when its output exists, so a
# re-run resumes.
#
#   bash tools/run_pipeline.sh                 # everything (about an hour on 2 CPU cores)
#   STAGES=data bash tools/run_pipeline.sh     # only set up and make the data + info files
#
# Data: data/nuscenes is used as it is when it holds a nuScenes release (real v1.0-mini works
# unchanged); otherwise the synthetic v1.0-mini is generated there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STAGES=${STAGES:-data,pretrain,train,test,visualize}
DATA_ROOT=data/nuscenes  # the data_root of every config
VERSION=${VERSION:-v1.0-mini}
WORK=${WORK_DIR:-work_dirs}
CONFIGS=${CONFIGS:-"configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py
configs/bevfusion/bevfusion_lidar_pillar_1xb2-cpu-12e_nus-mini-3d.py
configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py
configs/simdistill/simdistill_r18_pillar-teacher_1xb2-cpu-12e_nus-mini-3d.py"}
# What every CPU camera config's image backbone and neck start from (their init_cfg).
IMAGE_PRETRAIN=work_dirs/pretrain/resnet18-half_nus-mini-synthetic_depth-cls.pth
has_stage() { [[ ",$STAGES," == *",$1,"* ]]; }
say() { printf '[pipeline] %s\n' "$*"; }

bash tools/setup.sh

if has_stage data; then
  if [ -f "$DATA_ROOT/$VERSION/sample.json" ]; then
    say "using the nuScenes release in $DATA_ROOT/$VERSION"
  else
    say "generating the synthetic nuScenes $VERSION in $DATA_ROOT"
    python3 tools/create_synthetic_nuscenes.py --out "$DATA_ROOT"
  fi
  if [ -f "$DATA_ROOT/nuscenes_infos_val.pkl" ]; then
    say "info files exist in $DATA_ROOT"
  else
    say 'making info files with mmdet3d'"'"'s converter'
    python3 tools/create_data.py --root "$DATA_ROOT" --version "$VERSION" --max-sweeps 10
  fi
fi

if has_stage pretrain; then
  if [ -f "$IMAGE_PRETRAIN" ]; then
    say "image backbone pre-trained: $IMAGE_PRETRAIN"
  else
    say "pre-training the image backbone on the training images -> $IMAGE_PRETRAIN"
    python3 tools/pretrain_image_backbone.py configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py \
      --out "$IMAGE_PRETRAIN" --epochs 20
  fi
fi

for config in $CONFIGS; do
  name=$(basename "$config" .py)
  dir="$WORK/$name"
  if has_stage train; then
    say "$name: training, or resuming (log: $dir)"
    python3 tools/train.py "$config" --work-dir "$dir" --resume
  fi
  if has_stage test; then
    say "$name: evaluating $(cat "$dir/last_checkpoint")"
    python3 tools/test.py "$config" "$(cat "$dir/last_checkpoint")" --work-dir "$dir/test" \
      > "$dir/test.log" 2>&1 || { tail -30 "$dir/test.log"; exit 1; }
    tr '\r' '\n' < "$dir/test.log" | grep -E '^(mAP|NDS|mATE|mASE|mAOE|mAVE|mAAE):' | tail -7
  fi
  if has_stage visualize; then
    python3 tools/visualize.py "$config" "$(cat "$dir/last_checkpoint")" \
      --out-dir "$dir/pictures" --num-samples 4
  fi
done

if has_stage test; then
  python3 tools/summarize_results.py $(for c in $CONFIGS; do echo "$WORK/$(basename "$c" .py)"; done) \
    --out "$WORK/results.md"
fi
