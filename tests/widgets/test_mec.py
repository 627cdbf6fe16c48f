import html
import re

import ipywidgets as W
import pytest

from ccalab import GPI, PAS, Platform
from ccalab.widgets import MemoryEncryptionExplorer
from ccalab.widgets.mec import SETUP_GRANULES, setup_text

G = 4096


def _text(value: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", value))


@pytest.fixture(scope="module")
def machine():
    return Platform(dram_size=256 << 20)


@pytest.fixture
def ex(machine):
    return MemoryEncryptionExplorer(machine.fresh(), draw=False)


def test_ui_is_one_root_widget_with_described_controls(ex):
    assert isinstance(ex.ui, W.VBox)
    for ctl in (ex.address, ex.mecid, ex.text, ex.flip_offset, ex.flip_bit, ex.skip_flush):
        assert ctl.description
    for b in (ex.write_button, ex.read_button, ex.probe_button, ex.flip_button, ex.clean_button,
              ex.erase_button, ex.reset_button):
        assert b.description and b.tooltip
    assert hasattr(ex, "_ipython_display_")
    assert "deliberate mistake" in ex.skip_flush.description


def test_the_demo_granules_are_realm_and_hold_text_under_two_mecids(ex):
    p = ex.platform
    assert [m for _pa, m in ex.granules] == [m for _k, m in SETUP_GRANULES] == [1, 1, 2, 2]
    for k, (pa, m) in enumerate(ex.granules):
        assert p.gpi(pa) == GPI.REALM
        assert p.phys_read(pa, G, PAS.REALM, mecid=m) == setup_text(m, k)
    assert ex.address.value == hex(ex.granules[0][0]) and ex.mecid.value == 1
    cells = "".join(line.split("|")[1] for line in _text(ex.map_text.value).splitlines() if line.startswith("0x"))
    assert "1 1 2 2 " in cells


def test_read_under_the_writing_mecid_shows_the_plaintext(ex):
    got = ex.read()
    assert got.startswith(b"Realm A (MECID 1)")
    assert "reads its plaintext" in _text(ex.message.value)
    assert "Realm A (MECID 1" in _text(ex.hex_html.value)


def test_write_under_mecid_1_read_under_mecid_2_gives_noise_and_the_panel_says_so(ex):
    ex.mecid.value = 1
    assert ex.write("Top secret: the launch code is 1234") == b"Top secret: the launch code is 1234"
    assert "wrote 35 bytes" in _text(ex.message.value)
    ex.mecid.value = 2
    got = ex.read()
    assert b"Top secret" not in got
    msg = _text(ex.message.value)
    assert "MECID 2 reads noise" in msg and "written under MECID 1" in msg and "No fault" in msg
    ex.mecid.value = 1
    assert ex.read().startswith(b"Top secret: the launch code is 1234")


def test_crypto_erase_with_the_flush_leaves_only_noise(ex):
    assert ex.erase() == 0
    assert "crypto-erased" in _text(ex.message.value)
    assert ex.platform.events[-1].kind == "mec.refresh" and ex.platform.events[-2].kind == "dc.cipae"
    got = ex.read()
    assert b"Realm A" not in got
    assert "reads noise" in _text(ex.message.value) and "crypto-erased" in _text(ex.message.value)


def test_crypto_erase_with_the_what_if_leaves_the_plaintext_readable(ex):
    ex.skip_flush.value = True
    assert ex.platform.whatif.skip_mec_flush is True
    assert ex.erase() == 0
    assert "skipped DC CIPAE" in _text(ex.message.value)
    assert ex.read().startswith(b"Realm A (MECID 1)")
    assert "outlived the key" in _text(ex.message.value)
    assert "SKIPPED (what-if)" in _text(ex.events_html.value)


def test_flip_then_clean_then_read_marks_exactly_the_flipped_block(ex):
    ex.read()
    assert ex.flip(20, 3) == ex.granules[0][0] + 20
    probe = _text(ex.probe_html.value).splitlines()
    assert [line[0] for line in probe if "|" in line] == [" ", ">", " ", " "]
    assert "Clean+invalidate" in _text(ex.message.value)
    assert ex.read().startswith(b"Realm A (MECID 1)")  # the cached plaintext hides the flip...
    assert ex.clean() == 1
    got = ex.read()  # ...until the granule is refetched from DRAM
    expected = setup_text(1, 0)[:64]
    assert [k for k in range(4) if got[16 * k:16 * k + 16] != expected[16 * k:16 * k + 16]] == [1]
    rows = [line for line in _text(ex.hex_html.value).splitlines() if line.startswith("0x")]
    assert [line.split()[1] == ">" for line in rows] == [False, True, False, False]
    assert "block(s) [1]" in _text(ex.message.value) and "no integrity" in _text(ex.message.value)


def test_probe_shows_ciphertext_and_the_hosts_gpf(ex):
    raw = ex.probe()
    assert raw == ex.platform.dram_read(ex.granules[0][0], 64)
    panel = _text(ex.probe_html.value)
    assert "looks like noise" in panel and "GPF" in panel and "Realm A (MECID 1" in panel
    assert "dram.probe" in _text(ex.events_html.value)


def test_clean_invalidates_the_granule_in_the_context_map(ex):
    ex.clean()
    cells = "".join(line.split("|")[1] for line in _text(ex.map_text.value).splitlines() if line.startswith("0x"))
    assert ". 1 2 2 " in cells
    assert "DC CIPAE" in _text(ex.message.value)


@pytest.mark.parametrize("text", ["", "hello", "0x", "0xfg"])
def test_bad_address_gives_a_message_and_changes_nothing(ex, text):
    n = len(ex.platform.events)
    ex.address.value = text
    for action in (ex.read, ex.probe, ex.clean, ex.flip, lambda: ex.write("x")):
        assert action() is None
        assert "hex" in ex.message.value or "address" in ex.message.value
    assert len(ex.platform.events) == n


def test_an_address_outside_dram_is_refused(ex):
    ex.address.value = "0x10"
    assert ex.read() is None
    assert "not DRAM" in _text(ex.message.value)


def test_writing_to_a_non_secure_granule_explains_the_gpf(ex):
    ex.address.value = hex(ex.platform.ns_dram().base + 0x100000)
    assert ex.write("hello") is None
    msg = _text(ex.message.value)
    assert "faulted" in msg and "granule protection fault" in msg and hex(ex.granules[0][0]) in msg


@pytest.mark.parametrize("value", [-1, 1 << 16])
def test_out_of_range_mecid_gives_a_message(ex, value):
    ex.mecid.value = value
    assert ex.read() is None and ex.erase() is None
    assert "16 bits" in _text(ex.message.value)


def test_bad_flip_parameters_give_a_message(ex):
    assert ex.flip(4096, 0) is None and "0..4095" in _text(ex.message.value)
    assert ex.flip(0, 8) is None and "bits 0..7" in _text(ex.message.value)
    ex.text.value = ""
    assert ex.write() is None and "Type some text" in _text(ex.message.value)


def test_clicking_the_buttons_does_the_same_as_the_methods(ex):
    ex.mecid.value = 2
    ex.read_button.click()
    assert "reads noise" in _text(ex.message.value)
    ex.probe_button.click()
    assert "GPF" in _text(ex.probe_html.value)


def test_reset_restores_a_fresh_machine_and_every_control(ex):
    old = ex.platform
    ex.skip_flush.value = True
    ex.mecid.value = 5
    ex.address.value = "zz"
    ex.text.value = "abc"
    ex.flip_offset.value = 7
    ex.erase()
    ex.reset()
    p = ex.platform
    assert p is not old and p.whatif.skip_mec_flush is False and ex.skip_flush.value is False
    assert ex.address.value == hex(ex.granules[0][0]) and ex.mecid.value == 1 and ex.text.value == ""
    assert ex.flip_offset.value == 20 and ex.flip_bit.value == 3
    assert p.phys_read(ex.granules[2][0], 17, PAS.REALM, mecid=2) == b"Realm B (MECID 2)"
    assert ex.read().startswith(b"Realm A (MECID 1)")
    assert "Reset" in _text(ex.message.value) or "plaintext" in _text(ex.message.value)
    before = ex.events_html.value
    old.crypto_erase(1)  # the old machine no longer drives the dashboard
    assert ex.events_html.value == before


def test_every_click_works_with_the_pictures_drawn_and_closes_its_figures(machine):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ex = MemoryEncryptionExplorer(machine.fresh(), draw=True, theme="dark")
    ex.write("warm up")
    for action in (ex.read, lambda: ex.write("hello"), ex.probe, ex.flip, ex.clean, ex.read, ex.erase, ex.read):
        action()  # (how long each takes is measured in benchmarks/bench_viz.py, not asserted)
    assert plt.get_fignums() == []  # figures are closed after display


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_dashboard_draws_in_both_themes(machine, theme):
    import matplotlib

    matplotlib.use("Agg")
    ex = MemoryEncryptionExplorer(machine.fresh(), draw=True, theme=theme)
    assert ex.read() is not None
    assert "Entropy" in ex.text_tabs.get_title(1)
    assert "ciphertext: 7.9" in _text(ex.entropy_html.value)
