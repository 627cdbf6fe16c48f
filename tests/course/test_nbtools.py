import json

from ccalab.course import nbtools


def test_strip_outputs_removes_outputs_and_keeps_sources(tmp_path):
    nb = {"cells": [{"cell_type": "code", "id": "a", "metadata": {"tags": ["solution"]}, "source": "1 + 1",
                     "execution_count": 3,
                     "outputs": [{"output_type": "execute_result", "data": {"text/plain": "2"},
                                  "metadata": {}, "execution_count": 3}]}],
          "metadata": {"ccalab": {"title": "T"}, "widgets": {"state": {}}}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    assert nbtools.strip_outputs(path) is True
    out = json.loads(path.read_text())
    assert not nbtools.has_outputs(out)
    assert out["cells"][0]["source"] == "1 + 1" and out["cells"][0]["metadata"]["tags"] == ["solution"]
    assert out["metadata"] == {"ccalab": {"title": "T"}}
    assert nbtools.strip_outputs(path) is False
    assert nbtools.main(["--check", str(path)]) == 0
