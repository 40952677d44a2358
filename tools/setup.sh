#!/usr/bin/env bash
# Installs everything SimDistill needs into the active Python environment, skipping what is
# already installed and importable, so a second run finishes in well under a minute.
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
importable() { "$PY" -c "$1" >/dev/null 2>&1; }
pip_install() { "$PY" -m pip install --disable-pip-version-check -c "$CONSTRAINTS" "$@"; }

# 1. torch ------------------------------------------------------------------------------------
if importable 'import torch'; then
  say "torch $("$PY" -c 'import torch; print(torch.__version__)') already installed"
else
  say "installing torch==$TORCH_PIN (the CPU wheel where one lies on disk)"
  "$PY" -m pip install --disable-pip-version-check "torch==$TORCH_PIN"
fi
TORCH_VERSION=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')
TORCH_CUDA=$("$PY" -c 'import torch; print(int(torch.version.cuda is not None))')

# Every later pip call is constrained to this torch and to numpy<2 (nuscenes-devkit 1.2.0).
CONSTRAINTS="$LOG_DIR/constraints.txt"
printf 'torch==%s\nnumpy<2\nsetuptools<70\n' "$TORCH_VERSION" > "$CONSTRAINTS"

# 2. build tools and small runtime dependencies ------------------------------------------------
if ! importable 'import numpy, setuptools, ninja; assert int(numpy.__version__.split(".")[0]) < 2; assert int(setuptools.__version__.split(".")[0]) < 70'; then
  say 'installing numpy<2, setuptools<70 (mmcv build needs pkg_resources), wheel, ninja'
  pip_install 'numpy<2' 'setuptools<70' wheel ninja
fi

# 3. mmengine -----------------------------------------------------------------------------------
if ! importable "import mmengine; assert mmengine.__version__ == '$MMENGINE'"; then
  say "installing mmengine $MMENGINE"
  pip_install "mmengine==$MMENGINE"
fi

# 4. mmcv with its compiled ops ------------------------------------------------------------------
if importable "import mmcv, mmcv._ext; assert mmcv.__version__ == '$MMCV'"; then
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
if ! importable "import mmdet; assert mmdet.__version__ == '$MMDET'"; then
  say "installing mmdet $MMDET"
  pip_install "mmdet==$MMDET"
fi
if ! importable "import mmdet3d; assert mmdet3d.__version__ == '$MMDET3D'"; then
  # --no-deps: mmdet3d 1.4 lists open3d, lyft_dataset_sdk, tensorboard, ... that nothing here
  # imports; install what its nuScenes path really imports instead.
  say "installing mmdet3d $MMDET3D (and the parts of its dependencies the nuScenes path uses)"
  pip_install --no-deps "mmdet3d==$MMDET3D"
  pip_install 'numba' 'plyfile' 'trimesh' 'scikit-image' 'networkx>=2.5' 'lyft_dataset_sdk' --no-deps
  pip_install 'llvmlite' 'pandas' 'imageio' 'tifffile' 'lazy_loader' 'scipy'
fi
if ! importable 'import nuscenes; from nuscenes.eval.detection.evaluate import DetectionEval'; then
  say "installing nuscenes-devkit $DEVKIT"
  pip_install "nuscenes-devkit==$DEVKIT"
fi
if ! importable 'import mim'; then
  say 'installing openmim'
  pip_install 'openmim'
fi

# 6. spconv: CPU build without CUDA torch, cu120 build with it ------------------------------------
if importable 'import spconv.pytorch'; then
  say 'spconv already installed'
elif [ "$TORCH_CUDA" = 1 ]; then
  say 'installing spconv-cu120'
  pip_install 'spconv-cu120'
else
  say 'installing spconv (CPU build)'
  pip_install "spconv==$SPCONV"
fi

# 7. test tools, the deployment runtime (ONNX), the plugin -----------------------------------------
if ! importable 'import pytest, hypothesis'; then
  pip_install -r "$ROOT/requirements/tests.txt"
fi
if ! importable "import onnx, onnxruntime, onnxscript; assert onnx.__version__ == '$(pin onnx)' and onnxruntime.__version__ == '$(pin onnxruntime)'"; then
  say 'installing onnx, onnxruntime, onnxscript (tools/deployment)'
  pip_install -r "$ROOT/requirements/deploy.txt"
fi
if ! importable 'import simdistill, os; assert os.path.dirname(simdistill.__file__).startswith(os.environ["ROOT"])'; then
  say 'installing the simdistill plugin (editable)'
  pip_install --no-deps --no-build-isolation -e "$ROOT"
fi
# 8. the BEV pool kernels: compiled once into ~/.cache/simdistill/ops (only loaded later); the
#    plugin still imports, and falls back to PyTorch, if this fails.
"$PY" -c 'from simdistill.ops.bev_pool import build; print("[setup] BEV pool op:", build(verbose=False))' \
  || say 'BEV pool op did not build: the pure-PyTorch implementation will be used'
"$PY" - <<'PY'
import os
import mmcv, mmdet, mmdet3d, mmengine, torch
import simdistill
print(f'[setup] ready: torch {torch.__version__}, mmengine {mmengine.__version__}, '
      f'mmcv {mmcv.__version__}, mmdet {mmdet.__version__}, mmdet3d {mmdet3d.__version__}, '
      f'simdistill from {os.path.dirname(simdistill.__file__)}')
PY
