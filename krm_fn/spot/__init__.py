"""Spot placement for Ray worker groups (the package's face: import from here)."""

from krm_fn.spot.inject import *  # noqa: F403
from krm_fn.spot.inject import _NONE, _int, _witness  # noqa: F401
