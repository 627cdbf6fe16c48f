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
