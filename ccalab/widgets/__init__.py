"""Interactive dashboards (ipywidgets) built on :mod:`ccalab.viz`.

Importing this package loads ipywidgets; ``import ccalab`` alone never does.
"""

from .attest import TokenExplorer
from .gpt import GranuleProtectionExplorer
from .mec import MemoryEncryptionExplorer
from .mmu import TranslationExplorer
from .realm import RealmInspector
from .rmi import RmiConsole

__all__ = ["GranuleProtectionExplorer", "MemoryEncryptionExplorer", "TranslationExplorer", "RealmInspector",
           "RmiConsole", "TokenExplorer"]
