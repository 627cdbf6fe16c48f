"""The Non-secure hypervisor: a KVM-like VMM that builds realms, runs them and tears them down
through the RMI, and that a learner can also drive as an attacker.

>>> from ccalab import Platform
>>> from ccalab.host import Host, RealmConfig
>>> p = Platform(dram_size=1 << 30)
>>> host = Host(p)
>>> realm = host.build_realm(RealmConfig(program="hello", ram_size=2 << 20))
>>> report = realm.run()
>>> report.console
['hello from realm CPU 0: IPA width 40 bits']

Introduced in ``notebooks/04-life-of-a-realm.ipynb``.
"""

from .builder import BuildStep, RealmConfig, RealmHandle, RunReport
from .host import Host, HostError, RmiCall

__all__ = ["Host", "HostError", "RmiCall", "RealmConfig", "RealmHandle", "RunReport", "BuildStep"]
