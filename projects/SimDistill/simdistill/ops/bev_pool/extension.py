"""Lazy build and load of the compiled BEV pool kernels.

Nothing here runs at import time. The first call of :func:`load_extension` (or :func:`build`)
compiles ``src/`` with ``torch.utils.cpp_extension.load`` into a per-torch, per-source-hash
folder under the cache root (``$SIMDISTILL_OPS_CACHE``, else ``$XDG_CACHE_HOME/simdistill/ops``,
else ``~/.cache/simdistill/ops``) and registers the operators under ``torch.ops.<name>``. Later
processes find the built library there and only load it.

Two variants exist: ``cpu`` (C++/OpenMP) and ``cuda`` (the same plus the CUDA kernels, built
for every arch of the installed torch that nvcc supports). :func:`load_ops` is what the
kernels' callers use: after a failed build it warns once per process and returns None so that
the caller falls back to the pure-PyTorch implementation (9-22x slower), unless
``$SIMDISTILL_REQUIRE_COMPILED_OPS`` is set (not ``0``/empty): then it raises, naming why the
kernels are missing.

An interrupted build never blocks the next one. ``cpp_extension.load`` guards a build folder
with a ``lock`` file (``torch.utils.file_baton.FileBaton``) that a killed build never removes, and
every later load would wait on it forever. Every build and load here first takes an OS lock on
``build.flock`` in the same folder (:func:`build_lock`), which the kernel drops when its holder
dies: whoever holds it knows no live build of ours owns a ``lock`` file there, and removes one.
"""
import functools
import hashlib
import os
import re
import subprocess
import sys
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import torch

CACHE_ENV = 'SIMDISTILL_OPS_CACHE'
ARCH_ENV = 'SIMDISTILL_CUDA_ARCH_LIST'
VERBOSE_ENV = 'SIMDISTILL_OPS_VERBOSE'
REQUIRE_ENV = 'SIMDISTILL_REQUIRE_COMPILED_OPS'
TORCH_BATON = 'lock'  # cpp_extension.load's FileBaton in the build folder
BUILD_LOCK = 'build.flock'
SOURCE_DIR = Path(__file__).resolve().parent / 'src'
CPU_SOURCES = ('bev_pool.cpp', )
CUDA_SOURCES = ('bev_pool.cpp', 'bev_pool_cuda.cu')

_loaded: Dict[bool, Any] = {}  # cuda? -> torch.ops namespace
_failures: Dict[bool, str] = {}  # cuda? -> why the build or load failed
_warned = False
_lock = threading.RLock()  # one build/load at a time: an operator library registers only once


def variant_name(cuda: bool) -> str:
    """Library and ``torch.ops`` namespace name of a variant."""
    return 'simdistill_bev_pool_cuda' if cuda else 'simdistill_bev_pool_cpu'


@functools.lru_cache(maxsize=None)
def cuda_buildable() -> bool:
    """Whether the CUDA variant can be built: torch has CUDA and nvcc was found."""
    if torch.version.cuda is None:
        return False
    from torch.utils import cpp_extension
    home = cpp_extension.CUDA_HOME
    return home is not None and os.path.exists(os.path.join(home, 'bin', 'nvcc'))


def _nvcc_archs() -> Optional[set]:
    from torch.utils import cpp_extension
    try:
        out = subprocess.run([os.path.join(cpp_extension.CUDA_HOME, 'bin', 'nvcc'),
                              '--list-gpu-arch'], capture_output=True, text=True, timeout=60,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError, TypeError):
        return None
    return set(re.findall(r'compute_(\d+)', out))


def cuda_arch_list() -> str:
    """``TORCH_CUDA_ARCH_LIST`` for the CUDA variant, e.g. ``'8.0;8.6;9.0;10.0;12.0+PTX'``.

    Every arch of the installed torch (``torch.cuda.get_arch_list()``, or the arch flags torch
    was compiled with when no GPU is visible) that the local nvcc supports, with PTX for the
    newest so later GPUs can JIT it. ``$SIMDISTILL_CUDA_ARCH_LIST`` overrides it.
    """
    override = os.environ.get(ARCH_ENV)
    if override:
        return override
    names = list(torch.cuda.get_arch_list())
    if not names:
        try:  # get_arch_list() is empty without a visible GPU; ask for the build flags instead
            names = torch._C._cuda_getArchFlags().split()
        except (AttributeError, RuntimeError):
            names = []
    digits = sorted({m.group(1) for n in names for m in [re.search(r'_(\d+)', n)] if m},
                    key=int)
    supported = _nvcc_archs()
    if supported is not None:
        digits = [d for d in digits if d in supported]
    if not digits:
        raise RuntimeError(f'no CUDA arch of torch {names} is supported by the local nvcc')
    archs = [f'{int(d) // 10}.{int(d) % 10}' for d in digits]
    archs[-1] += '+PTX'
    return ';'.join(archs)


def _openmp_flags() -> List[str]:
    if sys.platform == 'win32':
        return ['/openmp']
    return [] if sys.platform == 'darwin' else ['-fopenmp']  # Apple clang has no -fopenmp


def _build_args(cuda: bool) -> Dict[str, Any]:
    name = variant_name(cuda)
    define = f'-DSIMDISTILL_BEV_POOL_NS={name}'
    args = dict(
        name=name,
        sources=[str(SOURCE_DIR / s) for s in (CUDA_SOURCES if cuda else CPU_SOURCES)],
        extra_cflags=['-O3', define] + _openmp_flags(),
        extra_cuda_cflags=['-O3', define] if cuda else None,
        extra_ldflags=_openmp_flags(),
        arch_list=cuda_arch_list() if cuda else None,
    )
    return args


def build_directory(cuda: bool, args: Optional[Dict[str, Any]] = None) -> Path:
    """Folder the variant is built in: ``<cache root>/bev_pool-<torch>-<variant>-<hash>``.

    The hash covers the sources (every file of ``src/``), the flags, the arch list and the
    Python version, so any change gives a fresh folder.
    """
    args = args or _build_args(cuda)
    digest = hashlib.sha256()
    for path in sorted(SOURCE_DIR.iterdir()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(repr(sorted((k, v) for k, v in args.items() if k != 'sources')).encode())
    digest.update(sys.version.split()[0].encode())
    root = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'simdistill', 'ops')
    variant = 'cuda' if cuda else 'cpu'
    return Path(root) / f'bev_pool-{torch.__version__}-{variant}-{digest.hexdigest()[:16]}'


@contextmanager
def _env(name: str, value: Optional[str]) -> Iterator[None]:
    old = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


@contextmanager
def build_lock(directory: Path) -> Iterator[None]:
    """Holds ``directory/build.flock`` exclusively and clears a stale ``directory/lock``.

    The OS lock (``fcntl.flock``) is released by the kernel when its holder exits or is
    killed, so it never outlives a build. Once it is held, torch's ``lock`` file can only be
    left over from a build that died (every build and load of ours holds the OS lock around
    ``cpp_extension.load``), and it is removed with a warning naming it. Without ``fcntl``
    (Windows) nothing is locked or removed.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(directory / BUILD_LOCK, 'a') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits for a live build, not for a dead one
        try:
            baton = directory / TORCH_BATON
            if baton.exists():
                baton.unlink()
                warnings.warn(f'simdistill BEV pool: removed {baton}, the build lock of an '
                              'interrupted build', RuntimeWarning, stacklevel=3)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _compile(cuda: bool, verbose: bool) -> Any:
    """Builds (if needed) and loads one variant; returns its ``torch.ops`` namespace."""
    from torch.utils import cpp_extension
    args = _build_args(cuda)
    directory = build_directory(cuda, args)
    directory.mkdir(parents=True, exist_ok=True)
    with build_lock(directory), _env('TORCH_CUDA_ARCH_LIST', args['arch_list']):
        cpp_extension.load(
            name=args['name'],
            sources=args['sources'],
            extra_cflags=args['extra_cflags'],
            extra_cuda_cflags=args['extra_cuda_cflags'],
            extra_ldflags=args['extra_ldflags'],
            build_directory=str(directory),
            with_cuda=cuda,
            is_python_module=False,
            verbose=verbose,
        )
    return getattr(torch.ops, args['name'])


def load_extension(cuda: bool = False, verbose: Optional[bool] = None) -> Any:
    """Builds if needed and loads the kernels; raises if that fails.

    Args:
        cuda: load the CUDA variant (CPU + CUDA kernels) rather than the CPU-only one. The CPU
            variant is served by an already loaded CUDA variant.
        verbose: print the compiler output (default: ``$SIMDISTILL_OPS_VERBOSE``).

    Returns:
        The ``torch.ops`` namespace holding ``fused_forward``, ``fused_backward_depth``,
        ``fused_backward_feat``, ``interval_forward`` and ``interval_backward``.

    Raises:
        RuntimeError: CUDA was asked for but torch has no CUDA or nvcc is missing, or the
            compiler failed (the message carries its output).
    """
    if cuda in _loaded:
        return _loaded[cuda]
    if not cuda and True in _loaded:
        return _loaded[True]
    if cuda and not cuda_buildable():
        raise RuntimeError('the CUDA BEV pool kernels need a CUDA build of torch and nvcc '
                           f'(torch.version.cuda={torch.version.cuda})')
    if verbose is None:
        verbose = os.environ.get(VERBOSE_ENV, '0') not in ('', '0')
    with _lock:
        if cuda not in _loaded:
            _loaded[cuda] = _compile(cuda, verbose)
    return _loaded[cuda]


def build(cuda: Optional[bool] = None, verbose: bool = True) -> Path:
    """Compiles the kernels now (for install scripts) and returns the build folder.

    Args:
        cuda: which variant; None builds the CUDA variant iff :func:`cuda_buildable`.
        verbose: print the compiler output.
    """
    if cuda is None:
        cuda = cuda_buildable()
    load_extension(cuda, verbose=verbose)
    return build_directory(cuda)


def compiled_ops_required() -> bool:
    """Whether ``$SIMDISTILL_REQUIRE_COMPILED_OPS`` forbids the pure-PyTorch fallback."""
    return os.environ.get(REQUIRE_ENV, '0') not in ('', '0')


class CompiledOpsUnavailableError(RuntimeError):
    """The compiled kernels are missing and ``$SIMDISTILL_REQUIRE_COMPILED_OPS`` is set."""


def load_ops(cuda: bool) -> Optional[Any]:
    """Like :func:`load_extension` but returns None on failure, warning once per process.

    For CPU tensors on a machine that can build CUDA, the CUDA variant (which also carries the
    CPU kernels) is tried first, then the CPU-only one. A failure is remembered: the build is
    not retried in this process.

    Raises:
        CompiledOpsUnavailableError: on failure when :func:`compiled_ops_required` (at every
            call, with the remembered reasons).
    """
    if cuda and True in _loaded:
        return _loaded[True]
    if not cuda and _loaded:  # either variant carries the CPU kernels
        return next(iter(_loaded.values()))
    variants = [True] if cuda else ([True, False] if cuda_buildable() else [False])
    for variant in variants:
        if variant in _failures:
            continue
        try:
            return load_extension(variant)
        except Exception as error:  # noqa: BLE001  any build/load failure means: fall back
            _failures[variant] = f'{type(error).__name__}: {error}'.strip()[:2000]
    _fall_back_or_raise(variants)
    return None


def _failure_reasons(variants: List[bool]) -> str:
    return '; '.join(f"{'cuda' if v else 'cpu'}: {_failures.get(v, 'not built')}"
                     for v in variants)


def _fall_back_or_raise(variants: List[bool]) -> None:
    global _warned
    reasons = _failure_reasons(variants)
    if compiled_ops_required():
        raise CompiledOpsUnavailableError(
            f'simdistill BEV pool: the compiled kernels are unavailable ({reasons}) and '
            f'{REQUIRE_ENV} is set, which forbids the pure-PyTorch fallback (9-22x slower). '
            f'Fix the build (set {VERBOSE_ENV}=1 to see the compiler output) or unset '
            f'{REQUIRE_ENV}.')
    if _warned:
        return
    _warned = True
    warnings.warn(
        'simdistill BEV pool: the compiled kernels are unavailable, falling back to the slower '
        f'pure-PyTorch implementation ({reasons}). Set {VERBOSE_ENV}=1 to see the compiler '
        f'output, {REQUIRE_ENV}=1 to make this an error.', RuntimeWarning, stacklevel=3)


def status() -> Dict[str, str]:
    """``{'cpu': ..., 'cuda': ...}``: 'loaded', 'failed: <why>' or 'not loaded'."""
    out = {}
    for cuda, key in ((False, 'cpu'), (True, 'cuda')):
        if cuda in _loaded:
            out[key] = 'loaded'
        elif cuda in _failures:
            out[key] = f'failed: {_failures[cuda]}'
        else:
            out[key] = 'not loaded'
    return out
