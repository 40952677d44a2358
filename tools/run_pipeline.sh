#!/usr/bin/env bash
# The main job, end to end: set up -> data -> info files -> pre-train the image backbone on the
# training images -> train the BEVFusion teacher as BEVFusion does (LiDAR-only, then LiDAR +
# camera from it), the camera-only baseline and the SimDistill student (distilled from that
# teacher) -> export the deployable student -> evaluate the three with the nuScenes devkit ->
# report.md with the metrics, the benchmark's numbers beside them, stage times, pictures and the
# student's loss curves. A stage whose output exists is skipped, so a killed run resumes
# (training resumes from its last checkpoint).
#
#   bash tools/run_pipeline.sh               # work_dirs/quickstart/report.md (50 min on 2 CPU
#                                            # cores once the stack is installed)
#   QUICK=1 bash tools/run_pipeline.sh       # the same stages on tiny data, one epoch each:
#                                            # work_dirs/quickstart-quick/ (a few minutes; CI)
#   STAGES=data bash tools/run_pipeline.sh   # only set up and make the data + info files
#
# Data: data/nuscenes is used as it is when it holds a nuScenes release (real v1.0-mini or
# v1.0-trainval works unchanged); otherwise a synthetic v1.0-trainval is generated there, the
# benchmark's release at a third of its size: 16 training scenes and 8 test (val) scenes from
# another world seed, 10 key frames each. QUICK=1 always generates its own tiny release inside
# its work folder. The camera models train with the benchmark's camera recipe and the teacher's
# camera branch with its recipe (tools/benchmarks/recipes.py); every model is scored, like the
# benchmark's, at score threshold 0.001.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STAGES=${STAGES:-data,pretrain,train,test,report}
# recipes CMD ARG: the benchmark's configs, recipes, schedule and evaluation options, one per
# line (tools/benchmarks/recipes.py holds them for both)
recipes() { python3 tools/benchmarks/recipes.py "$@"; }
LIDAR_ONLY=$(recipes config lidar_only)
TEACHER=$(recipes config teacher)
BASELINE=$(recipes config baseline)
DISTILLER=$(recipes config distiller)
STUDENT=$(recipes config student)
SYNTHETIC_ARGS=(--version v1.0-trainval)
if [ "${QUICK:-0}" = 1 ]; then
  WORK=${WORK_DIR:-work_dirs/quickstart-quick}
  DATA_ROOT=$WORK/data/nuscenes
  SYNTHETIC_ARGS+=(--train-scenes 2 --val-scenes 2 --samples-per-scene 2 --image-scale 0.2
                   --sweeps-per-sample 1 --azimuth-step 2.0)
  MAX_SWEEPS=1
  PRETRAIN_EPOCHS=1
  LIDAR_EPOCHS=1 FUSION_EPOCHS=1 EPOCHS=1
  QUICK_OPTS=(default_hooks.logger.interval=1)  # a loss record per iteration for the curves
  SCHEDULE='1 epoch on tiny data (QUICK=1: a check that the stages run, not a result)'
else
  WORK=${WORK_DIR:-work_dirs/quickstart}
  DATA_ROOT=data/nuscenes  # the data_root of every config
  SYNTHETIC_ARGS+=(--train-scenes 16 --val-scenes 8 --samples-per-scene 10)
  MAX_SWEEPS=10
  PRETRAIN_EPOCHS=8
  LIDAR_EPOCHS=${LIDAR_EPOCHS:-6} FUSION_EPOCHS=${FUSION_EPOCHS:-3} EPOCHS=${EPOCHS:-8}
  QUICK_OPTS=()
  SCHEDULE="teacher $LIDAR_EPOCHS LiDAR-only + $FUSION_EPOCHS fusion epochs, camera models $EPOCHS epochs, batch 2 (the benchmark: 20 + 6 and 8 on three times the data)"
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

# release_in ROOT: the nuScenes release (v1.0-mini, v1.0-trainval) ROOT holds; empty if none
release_in() {
  local found=("$1"/v1.0-*/sample.json)
  if [ "${#found[@]}" -gt 1 ]; then
    echo "$1 holds more than one release (${found[*]}): point DATA_ROOT at one" >&2
    return 1
  fi
  if [ -f "${found[0]}" ]; then basename "$(dirname "${found[0]}")"; fi
}

VERSION=$(release_in "$DATA_ROOT")
if has_stage data; then
  if [ -n "$VERSION" ]; then
    say "using the nuScenes release in $DATA_ROOT/$VERSION"
  else
    say "generating a synthetic nuScenes release in $DATA_ROOT (${SYNTHETIC_ARGS[*]})"
    timed data python3 tools/create_synthetic_nuscenes.py --out "$DATA_ROOT" "${SYNTHETIC_ARGS[@]}"
    VERSION=$(release_in "$DATA_ROOT")
  fi
  if [ -f "$DATA_ROOT/nuscenes_infos_val.pkl" ]; then
    say "info files exist in $DATA_ROOT"
  else
    say 'making info files with mmdet3d'"'"'s converter'
    timed info-files python3 tools/create_data.py --root "$DATA_ROOT" --version "$VERSION" \
      --max-sweeps "$MAX_SWEEPS"
  fi
fi
if [ -z "$VERSION" ]; then
  echo "[pipeline] no nuScenes release in $DATA_ROOT: run the data stage first" >&2
  exit 1
fi

# Every config reads data/nuscenes (v1.0-mini); point loaders and evaluators at $DATA_ROOT and
# its release, and the CPU camera branches at this run's pre-trained image backbone.
read -r -a DATA_OPTS <<< "$(python3 -m simdistill.datasets.release_options "$DATA_ROOT" "$VERSION")"
init_opts() {  # $1: where the camera model sits (model, model.student)
  echo "$1.img_backbone.init_cfg.checkpoint=$IMAGE_PRETRAIN $1.img_neck.init_cfg.checkpoint=$IMAGE_PRETRAIN"
}

if has_stage pretrain; then
  if [ -f "$IMAGE_PRETRAIN" ]; then
    say "image backbone pre-trained: $IMAGE_PRETRAIN"
  else
    say "pre-training the image backbone on the training images -> $IMAGE_PRETRAIN"
    timed pretrain python3 tools/pretrain_image_backbone.py "$BASELINE" --out "$IMAGE_PRETRAIN" \
      --epochs "$PRETRAIN_EPOCHS" --cfg-options "${DATA_OPTS[@]}"
  fi
fi

# train NAME CONFIG EPOCHS [options...]: trains (or resumes) into $WORK/NAME until
# epoch_EPOCHS.pth
train() {
  local name=$1 config=$2 epochs=$3
  shift 3
  if [ -f "$WORK/$name/epoch_$epochs.pth" ]; then
    say "$name: trained ($WORK/$name/epoch_$epochs.pth)"
    return
  fi
  say "$name: training $epochs epochs, or resuming (log: $WORK/$name)"
  # shellcheck disable=SC2046  # recipes prints one option per line
  timed "train $name" python3 tools/train.py "$config" --work-dir "$WORK/$name" --resume \
    --cfg-options "${DATA_OPTS[@]}" $(recipes schedule "$epochs") "${QUICK_OPTS[@]}" "$@"
}
# evaluate NAME CONFIG CKPT: tools/test.py into $WORK/NAME/test (the devkit's metrics), at the
# benchmark's score threshold so that low-score recall counts as it does there
evaluate() {
  local name=$1 config=$2 ckpt=$3
  if compgen -G "$WORK/$name/test/*/*.json" >/dev/null; then
    say "$name: evaluated ($WORK/$name/test)"
    return
  fi
  say "$name: evaluating $ckpt"
  # shellcheck disable=SC2046
  timed "test $name" python3 tools/test.py "$config" "$ckpt" --work-dir "$WORK/$name/test" \
    --cfg-options "${DATA_OPTS[@]}" $(recipes test "$config") \
    > "$WORK/$name/test.log" 2>&1 || { tail -30 "$WORK/$name/test.log"; exit 1; }
  tr '\r' '\n' < "$WORK/$name/test.log" | grep -E '^(mAP|NDS):' | tail -2
}

LIDAR_CKPT=$WORK/teacher_lidar/epoch_$LIDAR_EPOCHS.pth
TEACHER_CKPT=$WORK/teacher/epoch_$FUSION_EPOCHS.pth
BASELINE_CKPT=$WORK/camera_baseline/epoch_$EPOCHS.pth
STUDENT_CKPT=$WORK/simdistill/student_epoch_$EPOCHS.pth
if has_stage train; then
  train teacher_lidar "$LIDAR_ONLY" "$LIDAR_EPOCHS"
  # shellcheck disable=SC2046  # init_opts and recipes print several options
  train teacher "$TEACHER" "$FUSION_EPOCHS" "load_from=$LIDAR_CKPT" $(init_opts model) \
    $(recipes teacher "$TEACHER")
  # shellcheck disable=SC2046
  train camera_baseline "$BASELINE" "$EPOCHS" $(init_opts model) $(recipes camera "$BASELINE")
  # shellcheck disable=SC2046
  train simdistill "$DISTILLER" "$EPOCHS" "model.teacher_ckpt=$TEACHER_CKPT" \
    $(init_opts model.student) $(recipes camera "$DISTILLER")
  if [ ! -f "$STUDENT_CKPT" ]; then
    say "exporting the deployable student -> $STUDENT_CKPT"
    python3 tools/model_converters/export_student.py "$WORK/simdistill/epoch_$EPOCHS.pth" "$STUDENT_CKPT"
  fi
fi

if has_stage test; then
  evaluate teacher "$TEACHER" "$TEACHER_CKPT"
  evaluate camera_baseline "$BASELINE" "$BASELINE_CKPT"
  evaluate simdistill "$STUDENT" "$STUDENT_CKPT"
fi

if has_stage report; then
  say "writing $WORK/report.md (pictures of each model on the same samples)"
  NOTE=''
  [ "${QUICK:-0}" = 1 ] && NOTE='**QUICK=1**: tiny data and one epoch per stage; this report checks that the stages run end to end, its numbers mean nothing.'
  timed report python3 tools/make_report.py --work-dir "$WORK" \
    --model teacher "$TEACHER" "$TEACHER_CKPT" "$WORK/teacher/test" \
    --model camera_baseline "$BASELINE" "$BASELINE_CKPT" "$WORK/camera_baseline/test" \
    --model simdistill "$STUDENT" "$STUDENT_CKPT" "$WORK/simdistill/test" \
    --student-train-dir "$WORK/simdistill" --times "$TIMES" --schedule "$SCHEDULE" \
    --benchmark tools/benchmarks/results/distill_gain.json --note "$NOTE" \
    --cfg-options "${DATA_OPTS[@]}"
  say "done: $WORK/report.md"
fi
