"""Lazy build and load of SimDistill's compiled operator libraries (shared by every op).

Nothing here runs at import time, and this module needs only torch. An op describes its
library once (:class:`LazyExtension`: sources, namespace macro, what the fallback costs); the
first call of :meth:`LazyExtension.load` (or :meth:`~LazyExtension.build`) compiles the sources
with ``torch.utils.cpp_extension.load`` into a per-torch, per-source-hash folder under the cache
root (``$SIMDISTILL_OPS_CACHE``, else ``$XDG_CACHE_HOME/simdistill/ops``, else
``~/.cache/simdistill/ops``) and registers the operators under ``torch.ops.<name>``. Later
processes find the built library there and only load it.

Two variants exist per op: ``cpu`` (C++/OpenMP) and ``cuda`` (the same plus CUDA kernels, built
for every arch of the installed torch that nvcc supports), when the op has CUDA sources.
:meth:`LazyExtension.load_or_fallback` is what an op's callers use: after a failed build it
warns once per process and returns None so that the caller falls back to its pure-PyTorch
implementation, unless ``$SIMDISTILL_REQUIRE_COMPILED_OPS`` is set (not ``0``/empty): then it
raises, naming why the kernels are missing.

An interrupted build never blocks the next one. ``cpp_extension.load`` guards a build folder
with a ``lock`` file (``torch.utils.file_baton.FileBaton``) that a killed build never removes, and
every later load would wait on it forever. Every build and load here first takes an OS lock on
``build.flock`` in the same folder (:func:`build_lock`), which the kernel drops when its holder
dies: whoever holds it knows no live build of ours owns a ``lock`` file there, and removes one.
"""
import functools
import hashlib
import os
import platform
import re
import subprocess
import sys
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import torch

CACHE_ENV = 'SIMDISTILL_OPS_CACHE'
ARCH_ENV = 'SIMDISTILL_CUDA_ARCH_LIST'
VERBOSE_ENV = 'SIMDISTILL_OPS_VERBOSE'
REQUIRE_ENV = 'SIMDISTILL_REQUIRE_COMPILED_OPS'
TORCH_BATON = 'lock'  # cpp_extension.load's FileBaton in the build folder
BUILD_LOCK = 'build.flock'


class CompiledOpsUnavailableError(RuntimeError):
    """The compiled kernels are missing and ``$SIMDISTILL_REQUIRE_COMPILED_OPS`` is set."""


def compiled_ops_required() -> bool:
    """Whether ``$SIMDISTILL_REQUIRE_COMPILED_OPS`` forbids the pure-PyTorch fallbacks."""
    return os.environ.get(REQUIRE_ENV, '0') not in ('', '0')


def cache_root() -> Path:
    """Folder that holds every op's build folders (see the module docstring)."""
    return Path(os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'simdistill', 'ops'))


@functools.lru_cache(maxsize=None)
def cuda_buildable() -> bool:
    """Whether a CUDA variant can be built: torch has CUDA and nvcc was found."""
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
    """``TORCH_CUDA_ARCH_LIST`` for the CUDA variants, e.g. ``'8.0;8.6;9.0;10.0;12.0+PTX'``.

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


def native_flags() -> List[str]:
    """``-march=native`` where it is known to work (GCC/Clang on x86-64 Linux), else nothing."""
    if sys.platform.startswith('linux') and platform.machine() in ('x86_64', 'AMD64'):
        return ['-march=native']
    return []


def cpu_signature() -> str:
    """What ``-march=native`` compiles for: the CPU model and its feature flags (Linux), so a
    cache folder shared by different machines never hands one of them another's code."""
    try:
        with open('/proc/cpuinfo') as f:
            lines = [line for line in f if line.startswith(('model name', 'flags'))]
        return ''.join(sorted(set(lines)))
    except OSError:
        return platform.processor() or platform.machine()


def _openmp_flags() -> List[str]:
    if sys.platform == 'win32':
        return ['/openmp']
    return [] if sys.platform == 'darwin' else ['-fopenmp']  # Apple clang has no -fopenmp


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
def build_lock(directory: Path, label: str = 'ops') -> Iterator[None]:
    """Holds ``directory/build.flock`` exclusively and clears a stale ``directory/lock``.

    The OS lock (``fcntl.flock``) is released by the kernel when its holder exits or is
    killed, so it never outlives a build. Once it is held, torch's ``lock`` file can only be
    left over from a build that died (every build and load of ours holds the OS lock around
    ``cpp_extension.load``), and it is removed with a warning naming it. Without ``fcntl``
    (Windows) nothing is locked or removed.

    Args:
        directory: an existing build folder.
        label: the op's name in the warning.
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
                warnings.warn(f'simdistill {label}: removed {baton}, the build lock of an '
                              'interrupted build', RuntimeWarning, stacklevel=3)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LazyExtension:
    """One op's compiled library: built on first use, cached on disk, loaded once per process.

    Args:
        op: short name, e.g. ``'bev_pool'``: the build folder is ``<cache root>/<op>-<torch
            version>-<cpu|cuda>-<hash>`` and the library / ``torch.ops`` namespace
            ``simdistill_<op>_<cpu|cuda>``.
        label: the op's name in messages, e.g. ``'BEV pool'``.
        source_dir: folder of the sources; the hash covers every file in it.
        cpu_sources: file names (in ``source_dir``) of the CPU variant.
        cuda_sources: file names of the CUDA variant (CPU + CUDA kernels); empty when the op has
            no CUDA kernels.
        namespace_macro: preprocessor macro the sources take their ``TORCH_LIBRARY``
            namespace from (defined to the variant's name at build time).
        fallback: what the pure-PyTorch fallback costs, for messages, e.g. ``'9-22x slower'``.
        native: compile the CPU code for this machine's CPU (:func:`native_flags`; the build
            folder's hash then covers :func:`cpu_signature`).
    """

    def __init__(self, op: str, label: str, source_dir: Path, cpu_sources: Sequence[str],
                 cuda_sources: Sequence[str], namespace_macro: str, fallback: str,
                 native: bool = False) -> None:
        self.op = op
        self.label = label
        self.source_dir = Path(source_dir)
        self.cpu_sources = tuple(cpu_sources)
        self.cuda_sources = tuple(cuda_sources)
        self.namespace_macro = namespace_macro
        self.fallback = fallback
        self.native = native
        self._loaded: Dict[bool, Any] = {}  # cuda? -> torch.ops namespace
        self._failures: Dict[bool, str] = {}  # cuda? -> why the build or load failed
        self._warned = False
        self._lock = threading.RLock()  # one build/load at a time: a library registers once

    def variant_name(self, cuda: bool) -> str:
        """Library and ``torch.ops`` namespace name of a variant."""
        return f"simdistill_{self.op}_{'cuda' if cuda else 'cpu'}"

    def cuda_buildable(self) -> bool:
        """Whether this op's CUDA variant can be built (it has CUDA sources, torch CUDA, nvcc)."""
        return bool(self.cuda_sources) and cuda_buildable()

    def build_args(self, cuda: bool) -> Dict[str, Any]:
        """Arguments of ``cpp_extension.load`` for a variant (``arch_list`` aside)."""
        name = self.variant_name(cuda)
        define = f'-D{self.namespace_macro}={name}'
        return dict(
            name=name,
            sources=[str(self.source_dir / s)
                     for s in (self.cuda_sources if cuda else self.cpu_sources)],
            extra_cflags=['-O3', define] + _openmp_flags() +
            (native_flags() if self.native else []),
            extra_cuda_cflags=['-O3', define] if cuda else None,
            extra_ldflags=_openmp_flags(),
            arch_list=cuda_arch_list() if cuda else None,
        )

    def build_directory(self, cuda: bool, args: Optional[Dict[str, Any]] = None) -> Path:
        """Folder the variant is built in: ``<cache root>/<op>-<torch>-<variant>-<hash>``.

        The hash covers the sources (every file of ``source_dir``), the flags, the arch list,
        the Python version and, with ``native``, the CPU, so any change gives a fresh folder.
        """
        args = args or self.build_args(cuda)
        digest = hashlib.sha256()
        for path in sorted(self.source_dir.iterdir()):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
        digest.update(repr(sorted((k, v) for k, v in args.items() if k != 'sources')).encode())
        digest.update(sys.version.split()[0].encode())
        if self.native and native_flags():
            digest.update(cpu_signature().encode())
        variant = 'cuda' if cuda else 'cpu'
        return cache_root() / f'{self.op}-{torch.__version__}-{variant}-{digest.hexdigest()[:16]}'

    def _compile(self, cuda: bool, verbose: bool) -> Any:
        """Builds (if needed) and loads one variant; returns its ``torch.ops`` namespace."""
        from torch.utils import cpp_extension
        args = self.build_args(cuda)
        directory = self.build_directory(cuda, args)
        directory.mkdir(parents=True, exist_ok=True)
        with build_lock(directory, self.label), _env('TORCH_CUDA_ARCH_LIST', args['arch_list']):
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

    def load(self, cuda: bool = False, verbose: Optional[bool] = None) -> Any:
        """Builds if needed and loads the kernels; raises if that fails.

        Args:
            cuda: load the CUDA variant (CPU + CUDA kernels) rather than the CPU-only one. The
                CPU variant is served by an already loaded CUDA variant.
            verbose: print the compiler output (default: ``$SIMDISTILL_OPS_VERBOSE``).

        Returns:
            The variant's ``torch.ops`` namespace.

        Raises:
            RuntimeError: CUDA was asked for but cannot be built (no CUDA sources, no CUDA
                torch or no nvcc), or the compiler failed (the message carries its output).
        """
        if cuda in self._loaded:
            return self._loaded[cuda]
        if not cuda and True in self._loaded:
            return self._loaded[True]
        if cuda and not self.cuda_buildable():
            raise RuntimeError(
                f'the CUDA {self.label} kernels need CUDA sources, a CUDA build of torch and '
                f'nvcc (sources: {list(self.cuda_sources)}, '
                f'torch.version.cuda={torch.version.cuda})')
        if verbose is None:
            verbose = os.environ.get(VERBOSE_ENV, '0') not in ('', '0')
        with self._lock:
            if cuda not in self._loaded:
                self._loaded[cuda] = self._compile(cuda, verbose)
        return self._loaded[cuda]

    def build(self, cuda: Optional[bool] = None, verbose: bool = True) -> Path:
        """Compiles the kernels now (for install scripts) and returns the build folder.

        Args:
            cuda: which variant; None builds the CUDA variant iff :meth:`cuda_buildable`.
            verbose: print the compiler output.
        """
        if cuda is None:
            cuda = self.cuda_buildable()
        self.load(cuda, verbose=verbose)
        return self.build_directory(cuda)

    def load_or_fallback(self, cuda: bool) -> Optional[Any]:
        """Like :meth:`load` but returns None on failure, warning once per process.

        For CPU tensors on a machine that can build CUDA, the CUDA variant (which also carries
        the CPU kernels) is tried first, then the CPU-only one. A failure is remembered: the
        build is not retried in this process.

        Raises:
            CompiledOpsUnavailableError: on failure when :func:`compiled_ops_required` (at every
                call, with the remembered reasons).
        """
        if cuda and True in self._loaded:
            return self._loaded[True]
        if not cuda and self._loaded:  # either variant carries the CPU kernels
            return next(iter(self._loaded.values()))
        variants = [True] if cuda else ([True, False] if self.cuda_buildable() else [False])
        for variant in variants:
            if variant in self._failures:
                continue
            try:
                return self.load(variant)
            except Exception as error:  # noqa: BLE001  any build/load failure means: fall back
                self._failures[variant] = f'{type(error).__name__}: {error}'.strip()[:2000]
        self._fall_back_or_raise(variants)
        return None

    def failure_reasons(self, variants: Sequence[bool] = (False, True)) -> str:
        """``'cpu: <why>; cuda: <why>'`` for the given variants (``'not built'`` if untried)."""
        return '; '.join(f"{'cuda' if v else 'cpu'}: {self._failures.get(v, 'not built')}"
                         for v in variants)

    def _fall_back_or_raise(self, variants: List[bool]) -> None:
        reasons = self.failure_reasons(variants)
        if compiled_ops_required():
            raise CompiledOpsUnavailableError(
                f'simdistill {self.label}: the compiled kernels are unavailable ({reasons}) and '
                f'{REQUIRE_ENV} is set, which forbids the pure-PyTorch fallback '
                f'({self.fallback}). Fix the build (set {VERBOSE_ENV}=1 to see the compiler '
                f'output) or unset {REQUIRE_ENV}.')
        if self._warned:
            return
        self._warned = True
        warnings.warn(
            f'simdistill {self.label}: the compiled kernels are unavailable, falling back to the '
            f'slower pure-PyTorch implementation ({self.fallback}; {reasons}). Set '
            f'{VERBOSE_ENV}=1 to see the compiler output, {REQUIRE_ENV}=1 to make this an '
            'error.', RuntimeWarning, stacklevel=4)

    def status(self) -> Dict[str, str]:
        """``{'cpu': ..., 'cuda': ...}``: 'loaded', 'failed: <why>' or 'not loaded'."""
        out = {}
        for cuda, key in ((False, 'cpu'), (True, 'cuda')):
            if cuda in self._loaded:
                out[key] = 'loaded'
            elif cuda in self._failures:
                out[key] = f'failed: {self._failures[cuda]}'
            else:
                out[key] = 'not loaded'
        return out
