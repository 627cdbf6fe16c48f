"""Interactive dashboards (ipywidgets) built on :mod:`ccalab.viz`.

Importing this package loads ipywidgets; ``import ccalab`` alone never does.
"""

from .gpt import GranuleProtectionExplorer
from .mec import MemoryEncryptionExplorer
from .mmu import TranslationExplorer

__all__ = ["GranuleProtectionExplorer", "MemoryEncryptionExplorer", "TranslationExplorer"]
