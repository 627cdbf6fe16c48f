"""Exceptions a learner or a caller of the Python API can meet."""

from __future__ import annotations

from .arch.memory import BusError


class CCALabError(Exception):
    """Base class for ccalab's own exceptions."""


class GranuleProtectionFault(CCALabError):
    """A physical access was refused by the granule protection check.

    ``fault`` is the :class:`ccalab.arch.gpt.GPCFault` with the architectural details; its
    ``kind``, ``level``, ``gpcsc``, ``pa``, ``pas`` and ``gpi`` are also available here.
    """

    def __init__(self, fault):
        self.fault = fault
        super().__init__(fault.explain())

    def __getattr__(self, name):
        if name in ("kind", "level", "gpcsc", "pa", "pas", "gpi", "mfar", "explain", "is_gpf"):
            return getattr(self.fault, name)
        raise AttributeError(name)


class ExternalAbort(CCALabError, BusError):
    """A physical access reached an address where no memory or device answers."""


__all__ = ["CCALabError", "GranuleProtectionFault", "ExternalAbort", "BusError"]
