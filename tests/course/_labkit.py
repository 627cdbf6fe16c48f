"""Shared by the lab tests: the answer key loaded from labs/solutions, and a lab's shipped starter cell."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [0, 1, 2, 3, 7, 11, 42, 2024]


def load_solution(filename: str):
    """The reference solution module ``labs/solutions/<filename>`` (kept away from learners)."""
    spec = importlib.util.spec_from_file_location(Path(filename).stem.replace("-", "_"),
                                                  ROOT / "labs" / "solutions" / filename)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_starter(notebook: str, name: str):
    """Run the lab's import cells and its shipped starter cell (tagged ``solution``) and return ``name``."""
    nb = json.loads((ROOT / "labs" / notebook).read_text())
    env = {}
    for c in nb["cells"]:
        if c["cell_type"] != "code":
            continue
        src = "".join(c["source"])
        if src.lstrip().startswith(("from ", "import ")):
            exec(src, env)
        if "solution" in c.get("metadata", {}).get("tags", []):
            exec(src, env)
            return env[name]
    raise AssertionError(f"{notebook} has no cell tagged 'solution'")
