#!/usr/bin/env bash
# The main job, end to end: set up -> data -> info files -> pre-train the image backbone on the
# training images -> train the BEVFusion teacher (LiDAR + camera), the camera-only baseline and
# the SimDistill student (distilled from that teacher) -> export the deployable student ->
# evaluate the three with the nuScenes devkit -> report.md with the metrics, the gain, stage
# times, pictures and the student's loss curves. A stage whose output exists is skipped, so a
# killed run resumes (training resumes from its last checkpoint).
#
#   bash tools/run_pipeline.sh               # work_dirs/quickstart/report.md (about an hour on
#                                            # 2 CPU cores once the stack is installed)
#   QUICK=1 bash tools/run_pipeline.sh       # the same stages on tiny data, a few iterations:
#                                            # work_dirs/quickstart-quick/ (a few minutes; CI)
#   STAGES=data bash tools/run_pipeline.sh   # only set up and make the data + info files
#
# Data: data/nuscenes is used as it is when it holds a nuScenes release (real v1.0-mini works
# unchanged); otherwise the synthetic v1.0-mini is generated there. QUICK=1 always generates
# its own tiny synthetic release inside its work folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STAGES=${STAGES:-data,pretrain,train,test,report}
VERSION=${VERSION:-v1.0-mini}
TEACHER=configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py
BASELINE=configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py
DISTILLER=configs/simdistill/simdistill_r18_pillar-teacher_1xb2-cpu-12e_nus-mini-3d.py
STUDENT=configs/simdistill/simdistill-student_r18_1xb2-cpu-12e_nus-mini-3d.py
if [ "${QUICK:-0}" = 1 ]; then
  WORK=${WORK_DIR:-work_dirs/quickstart-quick}
  DATA_ROOT=$WORK/data/nuscenes
  SYNTHETIC_ARGS=(--samples-per-scene 2 --image-scale 0.2 --sweeps-per-sample 1 --azimuth-step 2.0)
  MAX_SWEEPS=1
  PRETRAIN_EPOCHS=1
  EPOCHS=1
  QUICK_OPTS=(default_hooks.logger.interval=1)  # a loss record per iteration for the curves
  SCHEDULE='1 epoch on tiny data (QUICK=1: a check that the stages run, not a result)'
else
  WORK=${WORK_DIR:-work_dirs/quickstart}
  DATA_ROOT=data/nuscenes  # the data_root of every config
  SYNTHETIC_ARGS=()
  MAX_SWEEPS=10
  PRETRAIN_EPOCHS=20
  EPOCHS=${EPOCHS:-8}
  QUICK_OPTS=()
  SCHEDULE="$EPOCHS epochs at batch 2 (the benchmark: 12)"
fi
if [ "${QUICK:-0}" = 1 ]; then
  IMAGE_PRETRAIN=$WORK/pretrain/resnet18-half_image-pretrain.pth
else  # where the CPU configs' init_cfg (and the benchmarks) look for it
  IMAGE_PRETRAIN=work_dirs/pretrain/resnet18-half_nus-mini-synthetic_depth-cls.pth
fi
TIMES=$WORK/times.json
has_stage() { [[ ",$STAGES," == *",$1,"* ]]; }
say() { printf '[pipeline] %s\n' "$*"; }
# Records a stage's wall time in $TIMES (only stages that ran; a resumed stage adds up).
timed() {
  local stage=$1 start end
  shift
  start=$(date +%s)
  "$@"
  end=$(date +%s)
  python3 - "$TIMES" "$stage" "$((end - start))" <<'PY'
import json, os, sys
path, stage, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
times = json.load(open(path)) if os.path.isfile(path) else {}
times[stage] = times.get(stage, 0.0) + seconds
tmp = path + '.tmp'
with open(tmp, 'w') as f:
    json.dump(times, f, indent=1)
os.replace(tmp, path)
PY
}

mkdir -p "$WORK"
timed setup bash tools/setup.sh

# Every config reads data/nuscenes; point loaders and evaluators at $DATA_ROOT, and the CPU
# camera branches at this run's pre-trained image backbone.
DATA_OPTS=()
for loader in train_dataloader val_dataloader test_dataloader; do
  DATA_OPTS+=("$loader.dataset.data_root=$DATA_ROOT/")
done
for evaluator in val_evaluator test_evaluator; do
  DATA_OPTS+=("$evaluator.data_root=$DATA_ROOT/" "$evaluator.ann_file=$DATA_ROOT/nuscenes_infos_val.pkl")
done
init_opts() {  # $1: where the camera model sits (model, model.student)
  echo "$1.img_backbone.init_cfg.checkpoint=$IMAGE_PRETRAIN $1.img_neck.init_cfg.checkpoint=$IMAGE_PRETRAIN"
}
SCHEDULE_OPTS=("train_cfg.max_epochs=$EPOCHS" "train_cfg.val_interval=$((EPOCHS + 1))"
               "param_scheduler.1.T_max=$EPOCHS" "param_scheduler.1.end=$EPOCHS")

if has_stage data; then
  if [ -f "$DATA_ROOT/$VERSION/sample.json" ]; then
    say "using the nuScenes release in $DATA_ROOT/$VERSION"
  else
    say "generating the synthetic nuScenes $VERSION in $DATA_ROOT"
    timed data python3 tools/create_synthetic_nuscenes.py --out "$DATA_ROOT" "${SYNTHETIC_ARGS[@]}"
  fi
  if [ -f "$DATA_ROOT/nuscenes_infos_val.pkl" ]; then
    say "info files exist in $DATA_ROOT"
  else
    say 'making info files with mmdet3d'"'"'s converter'
    timed info-files python3 tools/create_data.py --root "$DATA_ROOT" --version "$VERSION" \
      --max-sweeps "$MAX_SWEEPS"
  fi
fi

if has_stage pretrain; then
  if [ -f "$IMAGE_PRETRAIN" ]; then
    say "image backbone pre-trained: $IMAGE_PRETRAIN"
  else
    say "pre-training the image backbone on the training images -> $IMAGE_PRETRAIN"
    timed pretrain python3 tools/pretrain_image_backbone.py "$BASELINE" --out "$IMAGE_PRETRAIN" \
      --epochs "$PRETRAIN_EPOCHS" --cfg-options "train_dataloader.dataset.data_root=$DATA_ROOT/"
  fi
fi

# train NAME CONFIG [options...]: trains (or resumes) into $WORK/NAME until epoch_$EPOCHS.pth
train() {
  local name=$1 config=$2
  shift 2
  if [ -f "$WORK/$name/epoch_$EPOCHS.pth" ]; then
    say "$name: trained ($WORK/$name/epoch_$EPOCHS.pth)"
    return
  fi
  say "$name: training, or resuming (log: $WORK/$name)"
  timed "train $name" python3 tools/train.py "$config" --work-dir "$WORK/$name" --resume \
    --cfg-options "${DATA_OPTS[@]}" "${SCHEDULE_OPTS[@]}" "${QUICK_OPTS[@]}" "$@"
}
# evaluate NAME CONFIG CKPT: tools/test.py into $WORK/NAME/test (the devkit's metrics)
evaluate() {
  local name=$1 config=$2 ckpt=$3
  if compgen -G "$WORK/$name/test/*/*.json" >/dev/null; then
    say "$name: evaluated ($WORK/$name/test)"
    return
  fi
  say "$name: evaluating $ckpt"
  timed "test $name" python3 tools/test.py "$config" "$ckpt" --work-dir "$WORK/$name/test" \
    --cfg-options "${DATA_OPTS[@]}" > "$WORK/$name/test.log" 2>&1 \
    || { tail -30 "$WORK/$name/test.log"; exit 1; }
  tr '\r' '\n' < "$WORK/$name/test.log" | grep -E '^(mAP|NDS):' | tail -2
}

TEACHER_CKPT=$WORK/teacher/epoch_$EPOCHS.pth
STUDENT_CKPT=$WORK/simdistill/student_epoch_$EPOCHS.pth
if has_stage train; then
  # shellcheck disable=SC2046  # init_opts prints two options
  train teacher "$TEACHER" $(init_opts model)
  # shellcheck disable=SC2046
  train camera_baseline "$BASELINE" $(init_opts model)
  # shellcheck disable=SC2046
  train simdistill "$DISTILLER" "model.teacher_ckpt=$TEACHER_CKPT" $(init_opts model.student)
  if [ ! -f "$STUDENT_CKPT" ]; then
    say "exporting the deployable student -> $STUDENT_CKPT"
    python3 tools/model_converters/export_student.py "$WORK/simdistill/epoch_$EPOCHS.pth" "$STUDENT_CKPT"
  fi
fi

if has_stage test; then
  evaluate teacher "$TEACHER" "$TEACHER_CKPT"
  evaluate camera_baseline "$BASELINE" "$WORK/camera_baseline/epoch_$EPOCHS.pth"
  evaluate simdistill "$STUDENT" "$STUDENT_CKPT"
fi

if has_stage report; then
  say "writing $WORK/report.md (pictures of each model on the same samples)"
  NOTE=''
  [ "${QUICK:-0}" = 1 ] && NOTE='**QUICK=1**: tiny data and one epoch; this report checks that the stages run end to end, its numbers mean nothing.'
  timed report python3 tools/make_report.py --work-dir "$WORK" \
    --model teacher "$TEACHER" "$TEACHER_CKPT" "$WORK/teacher/test" \
    --model camera_baseline "$BASELINE" "$WORK/camera_baseline/epoch_$EPOCHS.pth" \
    "$WORK/camera_baseline/test" --model simdistill "$STUDENT" "$STUDENT_CKPT" "$WORK/simdistill/test" \
    --student-train-dir "$WORK/simdistill" --times "$TIMES" --schedule "$SCHEDULE" \
    --benchmark tools/benchmarks/results/distill_gain.json --note "$NOTE" \
    --cfg-options "${DATA_OPTS[@]}"
  say "done: $WORK/report.md"
fi
