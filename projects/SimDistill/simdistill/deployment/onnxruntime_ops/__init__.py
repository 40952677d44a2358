"""onnxruntime's library of SimDistill's custom ops (``simdistill::BEVPool``, ``MSDeformAttn``).

A graph exported with ``export_onnx(..., custom_ops=True)`` holds the BEV pool and the GCM's
deformable attention as one node each (:mod:`simdistill.ops.onnx_custom_ops`); onnxruntime runs
them from this library, which compiles the same C++ forward kernels as the PyTorch operators
(``simdistill/ops/*/src/*_forward.h``) behind onnxruntime's C ABI (``src/ort_api.h``). It
needs no torch and no onnxruntime headers: one ``g++`` call (about 3 s), made on first use,
cached like the PyTorch operators under ``<cache root>/onnxruntime_ops-<hash>`` (the hash covers
the sources, the flags and, with ``-march=native``, the CPU), written atomically::

    import onnxruntime as ort
    from simdistill.deployment.onnxruntime_ops import session_options
    session = ort.InferenceSession('student.onnx', session_options())

``python -m simdistill.deployment.onnxruntime_ops`` builds it and prints its path (for a
deployment that copies the ``.so`` beside the graph). ``tools/setup.sh`` builds it at install.
"""
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import List

from ...ops.lazy_extension import (_openmp_flags, build_lock, cache_root, cpu_signature,
                                   native_flags)

LIBRARY_NAME = 'libsimdistill_ort_ops.so'
SOURCE_DIR = Path(__file__).resolve().parent / 'src'
OPS_DIR = Path(__file__).resolve().parents[2] / 'ops'
# the op sources and the torch-free kernel headers they include
INCLUDE_DIRS = (SOURCE_DIR, OPS_DIR / 'bev_pool' / 'src', OPS_DIR / 'deformable_attention' / 'src')
SOURCES = (SOURCE_DIR / 'simdistill_ort_ops.cpp', SOURCE_DIR / 'ort_api.h',
           OPS_DIR / 'bev_pool' / 'src' / 'bev_pool_forward.h',
           OPS_DIR / 'deformable_attention' / 'src' / 'ms_deform_attn_forward.h')


def session_options(custom_ops: bool = True):
    """``onnxruntime.SessionOptions`` for SimDistill's graphs: with ``custom_ops``, this library
    registered and the intra-op pool's spin-waiting off. The custom ops run their own OpenMP
    threads; onnxruntime's pool threads spinning beside them take the cores they need (CPU size,
    2 cores: 108 ms per student forward with spinning, 94 ms without)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    if custom_ops:
        options.register_custom_ops_library(str(library_path()))
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    return options


class OnnxruntimeOpsBuildError(RuntimeError):
    """The custom-op library did not compile; the message holds the compiler's output."""


def compiler() -> str:
    """The C++ compiler: ``$CXX`` or ``g++``."""
    return os.environ.get('CXX', 'g++')


def compile_flags() -> List[str]:
    return ['-O3', '-std=c++17', '-shared', '-fPIC', '-fvisibility=hidden', *_openmp_flags(),
            *native_flags(), *(f'-I{d}' for d in INCLUDE_DIRS)]


def build_directory() -> Path:
    """``<cache root>/onnxruntime_ops-<hash of sources, compiler, flags, CPU>``."""
    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update(source.name.encode() + source.read_bytes())
    flags = [compiler()] + [f for f in compile_flags() if not f.startswith('-I')]
    digest.update(' '.join(flags).encode())
    if native_flags():
        digest.update(cpu_signature().encode())
    return cache_root() / f'onnxruntime_ops-{digest.hexdigest()[:16]}'


def library_path() -> Path:
    """The compiled library, built on the first call (``OnnxruntimeOpsBuildError`` if that
    fails, with the compiler's message)."""
    directory = build_directory()
    library = directory / LIBRARY_NAME
    if library.is_file():
        return library
    directory.mkdir(parents=True, exist_ok=True)
    with build_lock(directory, 'onnxruntime ops'):
        if library.is_file():  # built by another process while we waited
            return library
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            target = Path(tmp) / LIBRARY_NAME
            command = [compiler(), *compile_flags(), str(SOURCES[0]), '-o', str(target)]
            try:
                result = subprocess.run(command, capture_output=True, text=True)
            except OSError as error:  # no compiler
                raise OnnxruntimeOpsBuildError(
                    f'cannot run {command[0]!r} to build the onnxruntime ops: {error}') from error
            if result.returncode != 0:
                raise OnnxruntimeOpsBuildError(
                    f'building the onnxruntime ops failed ({" ".join(command)}):\n'
                    f'{result.stderr[-4000:]}')
            shutil.move(str(target), str(library))  # same file system: an atomic rename
    return library


__all__ = ['LIBRARY_NAME', 'OnnxruntimeOpsBuildError', 'library_path', 'session_options']
