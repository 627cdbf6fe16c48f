from ccalab.__main__ import main


def test_cli_warmup_and_bad_input(capsys):
    assert main(["warmup"]) == 0
    assert "kernels ready" in capsys.readouterr().out
    assert main(["gpt", "--dram", "1X"]) == 2
