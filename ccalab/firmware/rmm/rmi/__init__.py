"""RMI command handlers, one module per command group (as TF-RMM's ``runtime/rmi``)."""

from .features import rmi_features
from .granule import rmi_granule_delegate, rmi_granule_undelegate
from .version import rmi_version

__all__ = ["rmi_version", "rmi_features", "rmi_granule_delegate", "rmi_granule_undelegate"]
