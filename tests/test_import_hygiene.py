import subprocess
import sys


def test_import_ccalab_loads_no_ui_libraries():
    code = "import sys, ccalab; print(sorted(m for m in ('matplotlib', 'ipywidgets', 'IPython') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_every_module_has_a_test_file():
    """sklearn's test_all_tests_are_importable, adapted: each ccalab module has tests/<same path>."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    missing = []
    exempt = {"__init__", "__main__", "_version", "_jit", "_warmup", "_kernels", "_reference", "config"}
    for mod in (root / "ccalab").rglob("*.py"):
        if mod.stem in exempt:
            continue
        rel = mod.relative_to(root / "ccalab")
        parts = rel.parts[:-1]
        candidates = [root / "tests" / pathlib.Path(*parts) / f"test_{mod.stem}.py",
                      root / "tests" / f"test_{mod.stem}.py"]
        if not any(c.exists() for c in candidates):
            missing.append(str(rel))
    assert not missing, f"modules without a test file: {missing}"
