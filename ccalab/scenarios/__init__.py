"""Ready-made set-ups that notebooks, labs and tests start from."""

from .translation import GuestSetup, two_stage_guest

__all__ = ["GuestSetup", "two_stage_guest"]
