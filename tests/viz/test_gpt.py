import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from ccalab import GPI, PAS, Platform  # noqa: E402
from ccalab.viz import gpt as vg  # noqa: E402
from ccalab.viz.theme import CODE_LABELS, THEMES  # noqa: E402

G = 4096


@pytest.fixture(scope="module")
def booted():
    return Platform()


@pytest.fixture
def p():
    return Platform()


def _rows(text):
    """The cell characters of each map row."""
    return [line.split("|")[1] for line in text.splitlines() if line.startswith("0x") and "|" in line]


# --- naive reference: one walk per granule through the numba kernel ---------------------
def _naive_cells(p, start, end, cell):
    gpis = p.granule_gpis(start, end)
    per = cell // G
    out = []
    for k in range(0, gpis.size, per):
        vals = set(int(v) for v in gpis[k:k + per])
        out.append("?" if len(vals) > 1 else vg.SYMBOLS.get(vals.pop(), "!"))
    return "".join(out)


def test_whole_pps_is_mostly_l0_block_any_with_dram_in_l0_entries_2_and_3(booted):
    text = vg.granule_map_text(booted)
    rows = _rows(text)
    assert len(rows) == 16 and all(len(r) == 64 for r in rows)
    # 1 GB cells: L0[0..1] ANY, L0[2] all Non-secure, L0[3] holds the carve-outs, the rest ANY
    assert rows[0].startswith("**N?") and set(rows[0][4:]) == {"*"}
    assert all(set(r) == {"*"} for r in rows[1:])
    assert "1 cell = 1 GB" in text and "Legend:" in text
    assert "Realm (RMM)" in text and "DRAM0" in text


def test_dram_view_shows_the_carve_outs_in_order(booted):
    text = vg.granule_map_text(booted, 0x8000_0000, 0x1_0000_0000)
    rows = _rows(text)
    assert all(set(r) == {"N"} for r in rows[:-1])
    last = rows[-1]
    assert last == "N" * 32 + "S" * 14 + "R" * 16 + "X" * 2


def test_realm_carve_out_granules_are_realm(booted):
    r = booted.region("Realm (RMM)")
    assert r.base == 0xFDC0_0000
    rows = _rows(vg.granule_map_text(booted, r.base, r.base + 64 * G))
    assert rows == ["R" * 64]
    before = _rows(vg.granule_map_text(booted, r.base - 32 * G, r.base + 32 * G))
    assert before == ["S" * 32 + "R" * 32]


def test_a_delegated_granule_appears_when_zoomed_and_as_mixed_cell_when_not(p):
    pa = 0x9000_0000 + 5 * G
    assert p.monitor.gtsi_delegate(pa) == 0
    assert _rows(vg.granule_map_text(p, 0x9000_0000, 0x9000_0000 + 64 * G)) == ["N" * 5 + "R" + "N" * 58]
    dram = vg.granule_map_text(p, 0x8000_0000, 0x1_0000_0000)
    rows = _rows(dram)
    assert rows[2] == "?" + "N" * 63  # 0x90000000 starts row 2 (2 MB cells)
    assert sum(r.count("?") for r in rows) == 1
    assert "0x90005000-0x90006000" in dram  # runs are listed


def test_a_cell_across_a_pas_boundary_is_mixed_never_one_gpi(booted):
    sec = booted.region("Secure (TZC)").base
    assert _rows(vg.granule_map_text(booted, sec - 2 * G, sec + 2 * G, cells=1, rows=1)) == ["?"]
    assert _rows(vg.granule_map_text(booted, sec - 2 * G, sec + 2 * G, cells=4)) == ["NNSS"]


@pytest.mark.parametrize("start,end,cells,rows", [
    (0x8000_0000, 0x1_0000_0000, 64, 16),
    (0xFBF0_0000, 0xFE10_0000, 32, 8),
    (0x8FF0_0000, 0x9010_0000, 64, 4),
])
def test_structural_map_matches_a_granule_by_granule_walk(p, start, end, cells, rows):
    for k in (0, 3, 17, 200):
        assert p.monitor.gtsi_delegate(0x9000_0000 + k * G) == 0
    assert p.monitor.gtsi_delegate(0xFBFF_F000) == 0
    grid = vg.granule_grid(p, start, end, cells, rows)
    got = "".join(vg.SYMBOLS[int(c)] for c, v in zip(grid.codes.ravel(), grid.valid.ravel()) if v)
    assert got == _naive_cells(p, start, end, grid.cell)


def test_runs_match_the_kernel_walk_over_all_of_dram(p):
    assert p.monitor.gtsi_delegate(0xA000_0000) == 0
    assert p.monitor.gtsi_undelegate(0xA000_0000) == 0
    assert p.monitor.gtsi_delegate(0xA000_1000) == 0
    start, end = 0x8000_0000, 0x1_0000_0000
    starts, codes = vg.gpi_runs(p, start, end)
    expanded = np.repeat(codes, np.diff(np.append(starts, end)) // G)
    np.testing.assert_array_equal(expanded, p.granule_gpis(start, end))


def test_above_pps_cells_are_blank():
    p = Platform(pps=32)
    rows = _rows(vg.granule_map_text(p, 0, 1 << 36))
    assert rows[0][:32] == "*" * 32 and rows[0][-1] == "?"  # top of DRAM0 holds Root and Secure
    assert all(set(r) == {" "} for r in rows[1:])


def test_reserved_gpi_in_the_gpt_shows_as_walk_fault(p):
    pa = 0x9000_0000
    word = p.monitor._l1_word_addr(pa)
    assert p.monitor.gtsi_delegate(pa) == 0  # shatter so the word is a granules word
    p.memory.write64(p.monitor._l1_word_addr(pa), 0x9999_9999_9999_9992)  # GPI 0b0010 is reserved
    assert word is not None
    rows = _rows(vg.granule_map_text(p, pa, pa + 64 * G))
    assert rows == ["!" * 16 + "N" * 48]


def test_every_range_renders_for_every_pps_extreme():
    """Whole 256 TB space, a DRAM bank and single granules (timings are in benchmarks/bench_viz.py)."""
    for p in (Platform(), Platform(pps=48)):
        whole = vg.granule_map_text(p)
        assert "N" in whole and "*" in whole
        assert set(_rows(vg.granule_map_text(p, 0xFDC0_0000, 0xFDC0_0000 + 64 * G))[0]) == {"R"}


def test_bad_ranges_are_refused_with_a_message(booted):
    with pytest.raises(ValueError, match="empty range"):
        vg.granule_map_text(booted, 0x9000_0000, 0x9000_0000)
    with pytest.raises(ValueError, match="physical address space"):
        vg.granule_map_text(booted, 0, 1 << 60)


def test_platform_methods_delegate_to_the_text_renderers(booted):
    assert booted.granule_map_text(0xFDC0_0000, 0xFDC0_0000 + 64 * G) == \
        vg.granule_map_text(booted, 0xFDC0_0000, 0xFDC0_0000 + 64 * G)
    assert booted.gpt_text() == vg.gpt_structure_text(booted)


# --- structure and walk text --------------------------------------------------------------
def test_gpt_structure_text_groups_l0_entries_and_summarises_l1_tables(p):
    text = vg.gpt_structure_text(p)
    assert "GPCCR_EL3 = 0x" in text and "GPTBR_EL3 = 0x" in text
    assert f"L0 table at {p.monitor.l0_base:#x}: 1024 entries" in text
    assert "L0[0..1]" in text and "Block ANY" in text and "0x00000000000000f1" in text
    assert "L0[4..1023]" in text
    for idx, addr in p.monitor.l1_tables.items():
        assert f"L0[{idx}]" in text and f"Table -> L1 at {addr:#x}" in text
        assert f"L1 for L0[{idx}] at {addr:#x}" in text
    assert "(0 with more than one GPI)" in text
    assert p.monitor.gtsi_delegate(0x9000_0000) == 0
    after = vg.gpt_structure_text(p)
    assert "(1 with more than one GPI)" in after and "Realm 4 KB" in after


def test_walk_text_explains_the_steps_and_the_verdict(booted):
    text = vg.walk_text(booted, 0xFDC0_0000, "nonsecure")
    assert "L0: table" in text and "L1: table" in text
    assert "Verdict: FAULT" in text and "Realm" in text
    ok = vg.walk_text(booted, 0xFDC0_0000, PAS.REALM)
    assert "Verdict: allowed" in ok
    above = vg.walk_text(booted, 1 << 41, PAS.NONSECURE)
    assert "above the protected PA size" in above


# --- figures ----------------------------------------------------------------------------------
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_granule_map_figure_has_the_full_legend_in_either_theme(booted, theme):
    fig = vg.draw_granule_map(booted, 0x8000_0000, 0x1_0000_0000, theme=theme)
    try:
        ax = fig.axes[0]
        legend = ax.get_legend()
        assert len(legend.get_texts()) == len(CODE_LABELS) == 9
        assert legend.get_texts()[0].get_color().lower() == THEMES[theme]["text"].lower()
        assert ax.get_yticklabels()[0].get_text() == "0x80000000"
        assert fig.patch.get_alpha() == 0
    finally:
        plt.close(fig)


def test_granule_map_figure_reveals_one_delegated_granule_when_zoomed(p):
    assert p.monitor.gtsi_delegate(0x9000_0000 + 7 * G) == 0
    fig = vg.draw_granule_map(p, 0x9000_0000, 0x9000_0000 + 64 * G)
    try:
        img = np.asarray(fig.axes[0].images[0].get_array())
        order = sorted(CODE_LABELS)
        assert img.shape == (1, 64)
        assert img[0, 7] == order.index(GPI.REALM)
        assert set(np.delete(img[0], 7)) == {order.index(GPI.NONSECURE)}
    finally:
        plt.close(fig)
    fig = vg.draw_granule_map(p, 0x8000_0000, 0x1_0000_0000)
    try:
        img = np.asarray(fig.axes[0].images[0].get_array())
        assert (img == sorted(CODE_LABELS).index(vg.MIXED)).sum() == 1
    finally:
        plt.close(fig)


def test_granule_map_draws_into_a_given_axes(booted):
    fig, ax = plt.subplots()
    try:
        assert vg.draw_granule_map(booted, ax=ax) is fig
        assert len(ax.images) == 1
    finally:
        plt.close(fig)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_gpt_structure_figure_links_each_table_entry_to_its_l1_table(booted, theme):
    fig = vg.draw_gpt_structure(booted, theme=theme)
    try:
        ax = fig.axes[0]
        arrows = [a for a in ax.patches if isinstance(a, FancyArrowPatch)]
        assert len(arrows) == len(booted.monitor.l1_tables) == 2
        assert len(ax.get_legend().get_texts()) == 9
        texts = " ".join(t.get_text() for t in ax.texts)
        assert "L0[0..1] Block All access" in texts and "L1 at 0xfff20000" in texts
    finally:
        plt.close(fig)


def test_importing_ccalab_and_its_text_renderers_loads_no_graphics():
    code = ("import sys, ccalab; assert 'matplotlib' not in sys.modules and 'ipywidgets' not in sys.modules; "
            "import ccalab.viz; p = ccalab.Platform(); p.granule_map_text(); p.gpt_text(); "
            "assert 'matplotlib' not in sys.modules and 'ipywidgets' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
