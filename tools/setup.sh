#!/usr/bin/env bash
# Installs everything SimDistill needs into the active Python environment, skipping what is
# already installed and importable, so a second run finishes in seconds.
#
#   bash tools/setup.sh            # the stack + the plugin (editable)
#   SIMDISTILL_SKIP_MMCV=1 ...     # never build mmcv (for GPU machines that only need the op)
#
# Order matters: torch first (pinned, so no later step can pull a second, CUDA-sized torch),
# then mmengine, mmcv built from source with its ops, mmdet, mmdet3d, the devkit, spconv, and
# finally the plugin itself.
set -euo pipefail

PY=${PYTHON:-python3}
export ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_DIR=${SIMDISTILL_LOG_DIR:-$ROOT/work_dirs/setup}
mkdir -p "$LOG_DIR"

say() { printf '[setup] %s\n' "$*"; }
# The version pinned for a package in requirements/*.txt (the one place the pins live).
pin() {
  local v
  v=$(sed -n "s/^$1==\([^ #]*\).*/\1/p" "$ROOT"/requirements/*.txt | head -n 1)
  [ -n "$v" ] || { say "no pin for $1 in requirements/*.txt"; exit 1; }
  printf '%s' "$v"
}
TORCH_PIN=$(pin torch) MMENGINE=$(pin mmengine) MMCV=$(pin mmcv) MMDET=$(pin mmdet)
MMDET3D=$(pin mmdet3d) DEVKIT=$(pin nuscenes-devkit) SPCONV=$(pin spconv)
# Which components are already there, probed in one interpreter (tools/setup_probe.py); when
# everything is, the probe also prints the closing report and nothing else runs.
PROBE=$(ROOT="$ROOT" MMENGINE="$MMENGINE" MMCV="$MMCV" MMDET="$MMDET" MMDET3D="$MMDET3D" \
  ONNX="$(pin onnx)" ORT="$(pin onnxruntime)" "$PY" "$ROOT/tools/setup_probe.py" probe 2>/dev/null \
  || true)
PRESENT=$(tail -n 1 <<< "$PROBE")
if [[ " $PRESENT " == *" ready "* ]]; then
  head -n -1 <<< "$PROBE"
  exit 0
fi
present() { [[ " $PRESENT " == *" $1 "* ]]; }
pip_install() { "$PY" -m pip install --disable-pip-version-check -c "$CONSTRAINTS" "$@"; }

# 1. torch ------------------------------------------------------------------------------------
if ! present torch; then
  say "installing torch==$TORCH_PIN (the CPU wheel where one lies on disk)"
  "$PY" -m pip install --disable-pip-version-check "torch==$TORCH_PIN"
fi
read -r TORCH_VERSION TORCH_CUDA < <("$PY" -c \
  'import torch; print(torch.__version__.split("+")[0], int(torch.version.cuda is not None))')
present torch && say "torch $TORCH_VERSION already installed"

# Every later pip call is constrained to this torch and to numpy<2 (nuscenes-devkit 1.2.0).
CONSTRAINTS="$LOG_DIR/constraints.txt"
printf 'torch==%s\nnumpy<2\nsetuptools<70\n' "$TORCH_VERSION" > "$CONSTRAINTS"

# 2. build tools and small runtime dependencies ------------------------------------------------
if ! present build-tools; then
  say 'installing numpy<2, setuptools<70 (mmcv build needs pkg_resources), wheel, ninja'
  pip_install 'numpy<2' 'setuptools<70' wheel ninja
fi

# 3. mmengine -----------------------------------------------------------------------------------
if ! present mmengine; then
  say "installing mmengine $MMENGINE"
  pip_install "mmengine==$MMENGINE"
fi

# 4. mmcv with its compiled ops ------------------------------------------------------------------
if present mmcv; then
  say "mmcv $MMCV with compiled ops already installed"
elif [ "${SIMDISTILL_SKIP_MMCV:-0}" = 1 ]; then
  say 'SIMDISTILL_SKIP_MMCV=1: not building mmcv'
else
  if [ "$TORCH_CUDA" = 1 ] && command -v nvcc >/dev/null 2>&1; then export FORCE_CUDA=1; fi
  export MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)}
  say "building mmcv $MMCV from source with its ops (FORCE_CUDA=${FORCE_CUDA:-0}); this takes about"
  say "16 minutes on 2 cores. Progress below is ninja's [done/total]; full log: $LOG_DIR/mmcv-build.log"
  pip_install 'opencv-python-headless' addict yapf pyyaml Pillow packaging
  set +e
  "$PY" -m pip install --disable-pip-version-check -c "$CONSTRAINTS" -v --no-build-isolation \
      --no-binary mmcv "mmcv==$MMCV" 2>&1 | tee "$LOG_DIR/mmcv-build.log" | \
    awk '/^ *\[[0-9]+\/[0-9]+\]/ { match($0, /\[[0-9]+\/[0-9]+\]/); n++;
           if (n % 10 == 1) { printf "[setup] mmcv ops compiled %s\n", substr($0, RSTART, RLENGTH); fflush() } }
         /Successfully installed|ERROR|error:/ { print; fflush() }'
  status=${PIPESTATUS[0]}
  set -e
  [ "$status" = 0 ] || { say "mmcv build failed (exit $status); see $LOG_DIR/mmcv-build.log"; exit "$status"; }
fi

# 5. mmdet, mmdet3d, openmim --------------------------------------------------------------------
if ! present mmdet; then
  say "installing mmdet $MMDET"
  pip_install "mmdet==$MMDET"
fi
if ! present mmdet3d; then
  # --no-deps: mmdet3d 1.4 lists open3d, lyft_dataset_sdk, tensorboard, ... that nothing here
  # imports; install what its nuScenes path really imports instead.
  say "installing mmdet3d $MMDET3D (and the parts of its dependencies the nuScenes path uses)"
  pip_install --no-deps "mmdet3d==$MMDET3D"
  pip_install 'numba' 'plyfile' 'trimesh' 'scikit-image' 'networkx>=2.5' 'lyft_dataset_sdk' --no-deps
  pip_install 'llvmlite' 'pandas' 'imageio' 'tifffile' 'lazy_loader' 'scipy'
fi
if ! present devkit; then
  say "installing nuscenes-devkit $DEVKIT"
  pip_install "nuscenes-devkit==$DEVKIT"
fi
if ! present mim; then
  say 'installing openmim'
  pip_install 'openmim'
fi

# 6. spconv: CPU build without CUDA torch, cu120 build with it ------------------------------------
if present spconv; then
  say 'spconv already installed'
elif [ "$TORCH_CUDA" = 1 ]; then
  say 'installing spconv-cu120'
  pip_install 'spconv-cu120'
else
  say 'installing spconv (CPU build)'
  pip_install "spconv==$SPCONV"
fi

# 7. test tools, the deployment runtime (ONNX), the plugin -----------------------------------------
if ! present test-tools; then
  pip_install -r "$ROOT/requirements/tests.txt"
fi
if ! present onnx; then
  say 'installing onnx, onnxruntime, onnxscript (tools/deployment)'
  pip_install -r "$ROOT/requirements/deploy.txt"
fi
if ! present plugin; then
  say 'installing the simdistill plugin (editable)'
  pip_install --no-deps --no-build-isolation -e "$ROOT"
fi
# 8. the compiled ops (BEV pool, deformable attention, onnxruntime custom ops): built once into
#    ~/.cache/simdistill/ops (only loaded later); the plugin still imports, and falls back to
#    PyTorch, if this fails.
"$PY" "$ROOT/tools/setup_probe.py" ready
