"""Firmware: the EL3 monitor (``monitor``) and, in later topics, the Realm Management Monitor."""

from .monitor import Monitor

__all__ = ["Monitor"]
