"""The ``binder/`` folder builds a working course, as repo2docker (Binder, JupyterHub) would build it.

Two layers:

* Static checks of repo2docker's conventions (fast, always run): ``postBuild`` starts with
  ``set -e``, ``start`` ends with ``exec "$@"``, every requirement is pinned with ``==`` and
  satisfies what ``pyproject.toml`` asks for, ``runtime.txt`` names the Python, no Dockerfile.
* The parity check (slow; only with ``CCALAB_BINDER_CHECK=1``, as ``.ci/run`` sets it): a fresh
  virtual environment gets *only* ``binder/requirements.txt``, then ``bash binder/postBuild`` runs
  from the repository root with a throwaway ``HOME``, exactly as repo2docker runs it. Every notebook
  and lab (labs with their reference solution swapped in) is then executed by a kernel of that
  environment started through ``binder/start``: the driver (nbclient) is this test environment's,
  the kernel is registered as a kernelspec in a temporary ``JUPYTER_PATH``. A last injected cell
  reports the kernel's peak memory, which must stay under 1 GiB (Binder gives 1-2 GB), the
  interpreter it ran on and its ``NUMBA_CACHE_DIR``; the notebook must not have compiled a kernel
  that postBuild's ``warmup()`` left out of the cache. Wall time and peak RSS per notebook go to
  ``test-artifacts/binder-parity.json`` and are printed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LABS = sorted((ROOT / "labs").glob("*.ipynb"))
ARTIFACT = ROOT / "test-artifacts" / "binder-parity.json"
KERNEL_NAME = "ccalab-binder-parity"
MEMORY_LIMIT = 1 << 30  # bytes: the whole course must fit in 1 GiB per learner
CELL_TIMEOUT = 300

# The packages each part of pyproject.toml needs on Binder: the runtime dependencies, the course
# extra, and the kernel itself.
REQUIRED = ("numpy", "numba", "jupyterlab", "ipywidgets", "matplotlib", "tqdm", "ipykernel")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_lines() -> list:
    lines = []
    for raw in (BINDER / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def _pins() -> dict:
    pins = {}
    for line in _requirement_lines():
        name, _, version = line.partition("==")
        pins[_norm(name.split("[")[0].strip())] = version.strip()
    return pins


def _code_lines(path: Path) -> list:
    """The lines of a shell script that are neither blank nor comments (the shebang included)."""
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.strip() and (ln.startswith("#!") or not ln.strip().startswith("#"))]


# --------------------------------------------------------------------------------------------
# Static checks: always run, take milliseconds.
# --------------------------------------------------------------------------------------------

def test_postbuild_starts_with_set_e():
    lines = _code_lines(BINDER / "postBuild")
    assert lines[0].startswith("#!") and "bash" in lines[0], "postBuild needs a bash shebang"
    assert re.match(r"set -[a-z]*e", lines[1]), f"the first command of postBuild must be `set -e`, not {lines[1]!r}"


def test_start_ends_with_exec():
    lines = _code_lines(BINDER / "start")
    assert lines[0].startswith("#!") and "bash" in lines[0], "start needs a bash shebang"
    assert lines[-1] == 'exec "$@"', f"start must end with exec \"$@\", not {lines[-1]!r}"
    assert any("NUMBA_CACHE_DIR" in ln for ln in lines), "start must point NUMBA_CACHE_DIR somewhere writable"


def test_scripts_are_executable():
    for name in ("postBuild", "start"):
        assert os.access(BINDER / name, os.X_OK), f"binder/{name} must be executable (chmod +x, and in git)"


def test_every_requirement_is_pinned():
    lines = _requirement_lines()
    assert lines
    loose = [ln for ln in lines if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[A-Za-z0-9_.+!\-]+", ln)]
    assert not loose, f"pin every line of binder/requirements.txt with ==: {loose}"


def test_runtime_txt_names_a_python_the_package_supports():
    runtime = (BINDER / "runtime.txt").read_text(encoding="utf-8").strip()
    m = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert m, f"runtime.txt must read python-X.Y, not {runtime!r}"
    floor = re.search(r'requires-python\s*=\s*">=\s*(\d+)\.(\d+)"', (ROOT / "pyproject.toml").read_text())
    assert floor and (int(m[1]), int(m[2])) >= (int(floor[1]), int(floor[2]))


def test_no_dockerfile():
    # A Dockerfile makes repo2docker ignore every other file of the folder.
    assert not (BINDER / "Dockerfile").exists()
    assert not (ROOT / "Dockerfile").exists()


def test_requirements_pin_what_pyproject_needs():
    from packaging.requirements import Requirement

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads(text)["project"]
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["course"]]
    assert {_norm(r.name) for r in wanted} >= {"numpy", "numba", "jupyterlab", "ipywidgets", "matplotlib", "tqdm"}
    pins = _pins()
    for name in REQUIRED:
        assert _norm(name) in pins, f"binder/requirements.txt does not pin {name}"
    for req in wanted:
        assert _norm(req.name) in pins, f"binder/requirements.txt does not pin {req.name}"
        assert req.specifier.contains(pins[_norm(req.name)], prereleases=True), (
            f"binder pins {req.name}=={pins[_norm(req.name)]}, outside pyproject's {req}")


def test_build_requirements_are_pinned_when_postbuild_skips_build_isolation():
    # Without build isolation pip builds ccalab with what the environment has: pyproject's
    # build-system requirements must then come from binder/requirements.txt.
    from packaging.requirements import Requirement

    if "--no-build-isolation" not in (BINDER / "postBuild").read_text(encoding="utf-8"):
        pytest.skip("postBuild builds ccalab in an isolated environment")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    build = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]
    pins = _pins()
    for req in map(Requirement, build):
        assert _norm(req.name) in pins, f"binder/requirements.txt does not pin {req.name} (a build requirement)"
        assert req.specifier.contains(pins[_norm(req.name)], prereleases=True), f"{req.name} pin outside {req}"


def test_postbuild_installs_the_package_and_warms_the_cache():
    text = (BINDER / "postBuild").read_text(encoding="utf-8")
    assert re.search(r"pip install .*-e \.", text), "postBuild must install ccalab from the repository"
    assert "warmup" in text, "postBuild must fill the numba cache"
    start = (BINDER / "start").read_text(encoding="utf-8")
    cache = re.search(r'NUMBA_CACHE_DIR="?([^"\n]+)"?', text)
    assert cache and cache[1] in start, "postBuild must fill the same NUMBA_CACHE_DIR that start sets"


def test_instructor_guide_lists_every_notebook_with_its_minutes():
    # binder/README.md's timing table says what each notebook's front matter says.
    from ccalab.course.frontmatter import read

    guide = (BINDER / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([^`]+\.ipynb)` \| [^|]* \| (\d+) \|", guide, flags=re.M))
    for path in NOTEBOOKS + LABS:
        rel = path.relative_to(ROOT).as_posix()
        minutes = read(path).get("minutes")
        assert rel in rows, f"binder/README.md: add {rel} ({minutes} minutes) to the timing table"
        assert int(rows[rel]) == minutes, f"binder/README.md says {rel} takes {rows[rel]} minutes, its front matter {minutes}"
    total = sum(read(p).get("minutes", 0) for p in NOTEBOOKS + LABS)
    assert re.search(rf"\*\*the whole course\*\* \| \| \*\*{total}\*\*", guide), f"binder/README.md: the total is {total} minutes"


# --------------------------------------------------------------------------------------------
# The parity check: a Binder-like environment built from binder/ only, every notebook run in it.
# --------------------------------------------------------------------------------------------

binder_check = pytest.mark.skipif(os.environ.get("CCALAB_BINDER_CHECK") != "1",
                                  reason="set CCALAB_BINDER_CHECK=1 to build the binder environment")

_RESULTS: dict = {}

PROBE = r"""
import json as _json, os as _os, resource as _resource, sys as _sys
_hwm = 0
with open("/proc/self/status") as _f:
    for _line in _f:
        if _line.startswith("VmHWM:"):
            _hwm = int(_line.split()[1])
print("CCALAB-BINDER-PROBE " + _json.dumps({
    "vmhwm_kib": _hwm,
    "ru_maxrss_kib": _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss,
    "prefix": _sys.prefix,
    "numba_cache_dir": _os.environ.get("NUMBA_CACHE_DIR"),
    "ccalab": __import__("ccalab").__file__,
    "python": _sys.version.split()[0],
}))
"""


def _python_for_runtime() -> str:
    """The interpreter runtime.txt asks for, if this machine has it; else this one."""
    runtime = (BINDER / "runtime.txt").read_text(encoding="utf-8").strip()
    version = runtime.partition("-")[2]
    return shutil.which(f"python{version}") or sys.executable


def _sh(cmd, **kw):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc, time.perf_counter() - t0


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory):
    """A virtual environment built from binder/ only, with a kernelspec that runs through binder/start."""
    base = tmp_path_factory.mktemp("binder")
    env_dir, home, jupyter = base / "env", base / "home", base / "jupyter"
    home.mkdir()
    py = env_dir / "bin" / "python"
    setup = {}

    _, setup["venv_s"] = _sh([_python_for_runtime(), "-m", "venv", str(env_dir)])
    # repo2docker: pip install -r binder/requirements.txt into the kernel's environment.
    _, setup["requirements_s"] = _sh([str(py), "-m", "pip", "install", "--quiet", "-r",
                                      str(BINDER / "requirements.txt")])
    # repo2docker: postBuild from the repository root, as the notebook user, with the
    # environment's bin first on PATH.
    clean = {k: v for k, v in os.environ.items()
             if k not in ("PYTHONPATH", "VIRTUAL_ENV", "NUMBA_CACHE_DIR", "CCALAB_HOME", "JUPYTER_PATH")}
    build_env = dict(clean, HOME=str(home), VIRTUAL_ENV=str(env_dir),
                     PATH=f"{env_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    post, setup["postbuild_s"] = _sh(["bash", str(BINDER / "postBuild")], cwd=ROOT, env=build_env)
    setup["postbuild_output"] = post.stdout.strip().splitlines()[-1:]
    cache = home / ".cache" / "ccalab" / "numba"
    cached = sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())
    assert cached, "postBuild left the numba cache empty"

    # A kernel of the binder environment, started the way repo2docker starts everything: through
    # binder/start, whose `exec "$@"` makes the kernel the same process.
    spec_dir = jupyter / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": ["bash", str(BINDER / "start"), str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ccalab (binder environment)",
        "language": "python",
    }))
    kernel_env = {"HOME": str(home), "PATH": f"{env_dir / 'bin'}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
                  "LANG": os.environ.get("LANG", "C.UTF-8"), "MPLBACKEND": "Agg"}
    _RESULTS.clear()
    _RESULTS["setup"] = {k: round(v, 1) if isinstance(v, float) else v for k, v in setup.items()}
    _RESULTS["setup"]["numba_cache_files"] = len(cached)
    yield {"python": py, "prefix": env_dir, "home": home, "jupyter": jupyter, "cache": cache,
           "cached": cached, "kernel_env": kernel_env}
    shutil.rmtree(base, ignore_errors=True)  # the environment takes about 630 MB


def _solution_source(lab: Path) -> str:
    """tests/test_notebooks.py's swap of a lab's ``solution`` cell, reused when it can be loaded."""
    try:
        spec = importlib.util.spec_from_file_location("_ccalab_test_notebooks", ROOT / "tests" / "test_notebooks.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod._solution_source(lab)
    except Exception:  # pragma: no cover - the same code, kept working if that module changes
        sol = Path("solutions") / (lab.stem + ".py")
        return ("import importlib.util as _ilu, pathlib as _pl\n"
                f"_spec = _ilu.spec_from_file_location('_lab_solution', _pl.Path({str(sol)!r}))\n"
                "_sol = _ilu.module_from_spec(_spec)\n_spec.loader.exec_module(_sol)\n"
                "regions = _sol.solve(SEED)\n")


# Every notebook as it is; every lab twice: with its reference solution (its check must pass) and
# as `ccalab release` hands it to learners (its check must report NOT YET, without an exception).
CASES = [(p, "as is") for p in NOTEBOOKS] + [(p, v) for p in LABS for v in ("reference solution", "learner version")]


def _case_id(path: Path, variant: str) -> str:
    rel = path.relative_to(ROOT).as_posix()
    return rel if variant == "as is" else f"{rel} ({variant})"


def _write_artifact():
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(_RESULTS, indent=1) + "\n", encoding="utf-8")


@pytest.mark.slow
@pytest.mark.binder
@binder_check
@pytest.mark.parametrize("path,variant", CASES, ids=[_case_id(p, v) for p, v in CASES])
def test_runs_in_the_binder_environment(path, variant, binder_env, monkeypatch, capsys):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("JUPYTER_PATH", str(binder_env["jupyter"]))

    rel = _case_id(path, variant)
    if variant == "learner version":
        from ccalab.course.release import release_notebook

        nb = nbformat.reads(json.dumps(release_notebook(json.loads(path.read_text(encoding="utf-8")))), as_version=4)
    else:
        nb = nbformat.read(path, as_version=4)
    if variant == "reference solution":
        (cell,) = [c for c in nb.cells if "solution" in c.get("metadata", {}).get("tags", [])]
        cell.source = _solution_source(path)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    before = {p for p in binder_env["cache"].rglob("*") if p.is_file()}

    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL_NAME,
                                     resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    client.execute(env=binder_env["kernel_env"])
    wall = time.perf_counter() - t0

    errors = [c for c in nb.cells if c.cell_type == "code" and "raises-exception" not in c.metadata.get("tags", [])
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert not errors
    if path in LABS:
        check = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
        text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for c in check for o in c.outputs)
        assert ("PASSED" if variant == "reference solution" else "NOT YET") in text, text
    probe_out = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    probe = json.loads(probe_out.split("CCALAB-BINDER-PROBE ", 1)[1])
    new_cache = sorted(p.relative_to(binder_env["cache"]).as_posix()
                       for p in binder_env["cache"].rglob("*") if p.is_file() and p not in before)

    peak = max(probe["vmhwm_kib"], probe["ru_maxrss_kib"]) * 1024
    _RESULTS["setup"]["kernel_python"] = probe["python"]
    _RESULTS.setdefault("notebooks", {})[rel] = {
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(peak / 2**20, 1),
        "vmhwm_kib": probe["vmhwm_kib"],
        "ru_maxrss_kib": probe["ru_maxrss_kib"],
        "numba_cache_files_added": new_cache,
    }
    _write_artifact()
    with capsys.disabled():
        print(f"\n  binder parity: {rel:<58} {wall:6.1f} s  peak RSS {peak / 2**20:6.1f} MiB", end="")

    # The kernel ran in the binder environment, through binder/start, with ccalab installed by postBuild.
    assert Path(probe["prefix"]).resolve() == binder_env["prefix"].resolve()
    assert probe["numba_cache_dir"] == str(binder_env["cache"])
    assert Path(probe["ccalab"]).resolve().is_relative_to(ROOT)
    assert peak < MEMORY_LIMIT, f"{rel} peaked at {peak / 2**20:.0f} MiB (limit 1 GiB)"
    # postBuild's warm cache covers every kernel the course uses: no learner waits for a compile.
    assert not new_cache, f"{rel} compiled kernels that postBuild's warmup() did not: {new_cache}"
