"""Firmware: the EL3 monitor (``monitor``) and the Realm Management Monitor (``rmm``: its granule
tracker, RMI dispatch table and command handlers, growing command group by command group)."""

from .monitor import Monitor

__all__ = ["Monitor"]
