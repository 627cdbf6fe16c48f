import atexit
import os
import shutil
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")

# Tests, and the notebook kernels they start (which inherit this environment), keep learner files
# (the progress store) in a throwaway folder, never in the real ~/.ccalab.
_HOME = tempfile.mkdtemp(prefix="ccalab-test-home-")
os.environ["CCALAB_HOME"] = _HOME
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)


import pytest  # noqa: E402


@pytest.fixture
def p():
    """A 1 GiB machine whose RMM checks its granule and RTT invariants after every command
    (folders that need another machine define their own ``p``)."""
    from ccalab import Platform

    m = Platform(dram_size=1 << 30)
    m.rmm.debug = True
    return m


@pytest.fixture
def host(p):
    """The Non-secure hypervisor of ``p``."""
    from ccalab.host import Host

    return Host(p)
