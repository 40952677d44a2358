"""Runner extensions of SimDistill (registered on import)."""
from .denormal_hook import FlushDenormalHook

__all__ = ['FlushDenormalHook']
