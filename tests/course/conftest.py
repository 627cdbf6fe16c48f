import pytest


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Every course test records progress in its own throwaway store."""
    monkeypatch.setenv("CCALAB_HOME", str(tmp_path / "home"))
