"""Runner extensions of SimDistill (registered on import)."""
from .denormal_hook import FlushDenormalHook
from .epoch_seed_hook import SeedEachEpochHook
from .gradient_diagnostics import GradientDiagnosticsHook
from .non_finite import NamesNonFiniteLosses, NonFiniteGuardOptimWrapper

__all__ = [
    'FlushDenormalHook', 'GradientDiagnosticsHook', 'NamesNonFiniteLosses',
    'NonFiniteGuardOptimWrapper', 'SeedEachEpochHook'
]
