"""Every notebook and lab runs top to bottom; the lab's answer key passes its own check cell.

The lab's cell tagged ``solution`` is replaced by the reference solution from
``labs/solutions/`` before execution. A second run executes the lab as shipped and expects its
check cell to report failure (the starter code is meant to fail), not to raise.
"""

import os
from pathlib import Path

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LABS = sorted((ROOT / "labs").glob("*.ipynb"))
TIMEOUT = 120


def _solution_source(lab: Path) -> str:
    """Code that loads ``labs/solutions/<lab>.py`` and sets the lab's answer from ``solve(SEED)``.

    The answer is the variable the check cell reads: ``regions`` unless the solution module names
    another one in ``ANSWER`` (lab 02's answer is the function ``build``).
    """
    sol = Path("solutions") / (lab.stem + ".py")
    return (
        "import importlib.util as _ilu, pathlib as _pl\n"
        f"_spec = _ilu.spec_from_file_location('_lab_solution', _pl.Path({str(sol)!r}))\n"
        "_sol = _ilu.module_from_spec(_spec)\n"
        "_spec.loader.exec_module(_sol)\n"
        "globals()[getattr(_sol, 'ANSWER', 'regions')] = _sol.solve(SEED)\n"
    )


def _run(path: Path, nb=None):
    nb = nb if nb is not None else nbformat.read(path, as_version=4)
    env = dict(os.environ, MPLBACKEND="Agg")
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)  # passed on to the kernel manager's start_kernel
    return nb


def _tagged(nb, tag):
    return [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]


def _text(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o.get("text", ""))
        elif "data" in o:
            out.append(o["data"].get("text/plain", ""))
        elif o.get("output_type") == "error":
            out.append(f"{o.get('ename')}: {o.get('evalue')}")
    return "".join(out)


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path):
    nb = _run(path)
    errors = [c for c in nb.cells if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert all("raises-exception" in c.metadata.get("tags", []) for c in errors)
    for c in _tagged(nb, "raises-exception"):
        assert any(o.get("output_type") == "error" for o in c.outputs), "a cell meant to fail did not"


@pytest.mark.notebook
@pytest.mark.parametrize("path", LABS, ids=[p.name for p in LABS])
def test_lab_passes_with_the_reference_solution(path):
    nb = nbformat.read(path, as_version=4)
    cells = _tagged(nb, "solution")
    assert len(cells) == 1, "a lab has exactly one cell tagged 'solution'"
    cells[0].source = _solution_source(path)
    nb = _run(path, nb)
    (check,) = _tagged(nb, "check")
    assert "PASSED" in _text(check), _text(check)


@pytest.mark.notebook
@pytest.mark.parametrize("path", LABS, ids=[p.name for p in LABS])
def test_lab_as_shipped_reports_failure_without_an_exception(path):
    nb = _run(path)
    (check,) = _tagged(nb, "check")
    assert not any(o.get("output_type") == "error" for o in check.outputs)
    assert "NOT YET" in _text(check), _text(check)
