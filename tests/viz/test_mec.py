import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ccalab import PAS, Platform  # noqa: E402
from ccalab.viz import mec as vm  # noqa: E402

G = 4096
ENGLISH = (b"It was the best of times, it was the worst of times, it was the age of wisdom, "
           b"it was the age of foolishness, it was the epoch of belief. ")


@pytest.fixture
def p():
    return Platform(dram_size=256 << 20)


@pytest.fixture
def realm(p):
    """Four Realm granules: the first two written by MECID 1, the next two by MECID 2."""
    base = p.ns_dram().base + (16 << 20)
    for k in range(4):
        assert p.monitor.gtsi_delegate(base + k * G) == 0
    page = (ENGLISH * 40)[:G]
    for k, m in enumerate((1, 1, 2, 2)):
        p.phys_write(base + k * G, page, PAS.REALM, mecid=m)
    return base


def _side_marks(text):
    """Per row of a side-by-side view: (plaintext side marked, DRAM side marked), read at the fixed
    mark columns (the ASCII columns of random bytes may hold '>' too)."""
    out = []
    for line in text.splitlines():
        if line.startswith("0x"):
            width = len(line.split()[0])
            out.append((line[width + 2] == ">", line[width + 72] == ">"))
    return out


# --- hexdump and block_diff ----------------------------------------------------------------
def test_hexdump_shows_address_hex_and_printable_characters():
    text = vm.hexdump(b"Hello, MEC!\x00\x01" + bytes(19), base=0x8100_0000)
    lines = text.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("  0x81000000  48 65 6c 6c 6f")
    assert lines[0].endswith("|Hello, MEC!.....|")
    assert lines[1].startswith("  0x81000010")


def test_hexdump_marks_only_the_highlighted_block():
    lines = vm.hexdump(bytes(64), highlight_blocks=[2]).splitlines()
    assert [line[0] for line in lines] == [" ", " ", ">", " "]


def test_block_diff_finds_the_16_byte_blocks_that_differ():
    a = bytes(64)
    b = bytearray(a)
    b[17] = 1
    b[63] = 9
    assert vm.block_diff(a, bytes(b)) == [1, 3]
    assert vm.block_diff(a, a) == []
    assert vm.block_diff(bytes(32), bytes(48)) == [2]  # past the shorter one counts as different


def test_a_flipped_dram_bit_is_marked_in_exactly_one_block_after_clean_and_refetch(p, realm):
    a = realm
    expected = p.phys_read(a, 64, PAS.REALM, mecid=1)
    before = p.dram_read(a, 64)
    raw = bytearray(before)
    raw[37] ^= 0x10  # block 2
    p.dram_write(a, bytes(raw))
    p.mec.clean_invalidate(a)
    got = p.phys_read(a, 64, PAS.REALM, mecid=1)
    assert vm.block_diff(got, expected) == [2]
    assert vm.block_diff(p.dram_read(a, 64), before) == [2]
    text = vm.side_by_side_text(p, a, 64, PAS.REALM, mecid=1, expected=expected, dram_before=before)
    marks = _side_marks(text)
    assert len(marks) == 4
    assert [m[0] for m in marks] == [False, False, True, False]  # plaintext side: block 2 only
    assert [m[1] for m in marks] == [False, False, True, False]  # DRAM side: block 2 only
    assert "differ from the expected data: [2]" in text and "DRAM blocks that changed: [2]" in text
    hd = vm.hexdump(got, a, highlight_blocks=vm.block_diff(got, expected))
    assert [line[0] for line in hd.splitlines()] == [" ", " ", ">", " "]


def test_side_by_side_aligns_the_window_to_whole_16_byte_blocks(p, realm):
    text = vm.side_by_side_text(p, realm + 3, 40, PAS.REALM, mecid=1)
    rows = [line for line in text.splitlines() if line.startswith("0x")]
    assert [r.split()[0] for r in rows] == [hex(realm), hex(realm + 16), hex(realm + 32)]
    assert "It was the best" in text  # the owner's plaintext on the left
    assert "Realm MECID 1 reads" in text and "DRAM holds" in text
    assert _side_marks(text) == [(False, False)] * 3  # nothing to compare with: nothing marked


def test_side_by_side_shows_a_refused_access_as_the_fault(p, realm):
    text = vm.side_by_side_text(p, realm, 32, PAS.NONSECURE)
    assert "granule protection fault" in text and "no data" in text


# --- entropy --------------------------------------------------------------------------------
def test_ciphertext_entropy_is_above_7_5_and_english_text_below_5(p, realm):
    plain = p.phys_read(realm, G, PAS.REALM, mecid=1)
    cipher = p.dram_read(realm, G)
    assert vm.entropy(cipher, G)[0] > 7.5
    assert vm.entropy(plain, G)[0] < 5
    assert vm.entropy(ENGLISH * 30, 4096)[0] < 5


def test_entropy_per_block_and_its_limits():
    assert vm.entropy(bytes(128), 64).tolist() == [0.0, 0.0]
    assert vm.entropy(bytes(range(256)), 256)[0] == pytest.approx(8.0)
    assert vm.entropy(bytes(range(64)), 64)[0] == pytest.approx(6.0)  # log2(64) caps a 64-byte block
    assert vm.entropy(b"ab" * 8, 16)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        vm.entropy(b"x", 0)


def test_entropy_text_reports_both_views(p, realm):
    text = vm.entropy_text(p.phys_read(realm, G, PAS.REALM, mecid=1), p.dram_read(realm, G))
    assert text.startswith("plaintext: 3.") and "ciphertext: 7.9" in text


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_entropy_figure_shows_two_byte_images_titled_with_their_entropy(p, realm, theme):
    fig = vm.draw_entropy(p, realm + 100, mecid=1, theme=theme)
    try:
        axes = [ax for ax in fig.axes if ax.images]
        assert len(axes) == 2
        imgs = [np.asarray(ax.images[0].get_array()) for ax in axes]
        assert all(img.shape == (64, 64) for img in imgs)
        assert bytes(imgs[0].astype(np.uint8).ravel()) == p.phys_read(realm, G, PAS.REALM, mecid=1)
        assert bytes(imgs[1].astype(np.uint8).ravel()) == p.dram_read(realm, G)
        titles = [ax.get_title() for ax in axes]
        assert "Realm MECID 1 reads" in titles[0] and "bits/byte" in titles[0]
        assert "DRAM holds" in titles[1] and "7.9" in titles[1]
        assert fig.patch.get_alpha() == 0.0
        text_colour = matplotlib.colors.to_hex(axes[0].title.get_color())
        assert text_colour == ("#e8e8e8" if theme == "dark" else "#1a1a1a")
    finally:
        plt.close(fig)


def test_entropy_figure_of_a_refused_access_says_so(p, realm):
    fig = vm.draw_entropy(p, realm, pas=PAS.NONSECURE)
    try:
        assert len([ax for ax in fig.axes if ax.images]) == 1
        assert any("faulted" in t.get_text() for ax in fig.axes for t in ax.texts)
    finally:
        plt.close(fig)


# --- context map ----------------------------------------------------------------------------
def _cells(text):
    rows = [line.split("|")[1] for line in text.splitlines() if line.startswith("0x") and "|" in line]
    return "".join(rows)


def test_context_map_shows_two_mecids_as_different_characters(p, realm):
    text = vm.context_map_text(p, realm - 4 * G, realm + 8 * G)
    cells = _cells(text)
    symbols = cells[0::2]
    assert symbols == "----" + "1122" + "----"
    assert set(cells[1::2]) == {" "}  # write-through: nothing dirty
    assert "1 Realm MECID 1" in text and "2 Realm MECID 2" in text
    assert "Granules per context: Realm MECID 1 2, Realm MECID 2 2" in text


def test_context_map_shows_invalid_and_dirty_granules_and_changes_nothing(p, realm):
    p.mec.clean_invalidate(realm + G)
    p.memory.write(realm + 2 * G, b"x")  # a store above the PoE, not yet in DRAM
    tags = p.mec.tag.copy()
    text = vm.context_map_text(p, realm, realm + 4 * G)
    assert _cells(text) == "1 . 2*2 "
    assert "dirty" in text and "invalid" in text
    assert np.array_equal(p.mec.tag, tags)


def test_other_pas_contexts_have_their_own_symbols(p):
    ns = p.ns_dram().base + 40 * G
    p.phys_write(ns, b"host", PAS.NONSECURE)
    assert _cells(vm.context_map_text(p, ns, ns + G))[0] == "N"
    assert vm.context_symbol((PAS.SECURE << 16)) == "S"
    assert vm.context_symbol((PAS.REALM << 16) | 12) == "c"
    assert vm.context_symbol((PAS.REALM << 16) | 4000) == "#"


def test_context_map_refuses_a_huge_or_empty_range(p):
    with pytest.raises(ValueError, match="zoom in"):
        vm.context_map_text(p, 0x8000_0000, 0x8000_0000 + (64 << 20))
    with pytest.raises(ValueError, match="empty"):
        vm.context_map_text(p, 0x8000_1000, 0x8000_1000)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_context_map_figure_colours_the_two_mecids_differently(p, realm, theme):
    fig = vm.draw_context_map(p, realm - 4 * G, realm + 28 * G, theme=theme)
    try:
        ax = fig.axes[0]
        img = np.asarray(ax.images[0].get_array())
        assert img.shape == (1, 32)
        cmap = ax.images[0].get_cmap()
        colours = [matplotlib.colors.to_hex(cmap(int(v))) for v in img[0, 4:8]]
        assert colours[0] == colours[1] != colours[2] == colours[3]
        labels = [t.get_text() for t in ax.texts]
        assert labels[4:8] == ["1", "1", "2", "2"]
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("Realm MECID 1" in s for s in legend) and any("Realm MECID 2" in s for s in legend)
        assert any("dirty" in s for s in legend)
    finally:
        plt.close(fig)


def test_context_map_figure_outlines_dirty_granules(p, realm):
    p.memory.write(realm, b"x")
    fig = vm.draw_context_map(p, realm, realm + 4 * G)
    try:
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.texts][:2] == ["1*", "1"]
        assert len(ax.patches) == 1
    finally:
        plt.close(fig)


# --- the three observers --------------------------------------------------------------------
def test_probe_text_shows_noise_for_the_probe_plaintext_for_the_owner_and_a_gpf_for_the_host(p, realm):
    text = vm.probe_text(p, realm, 64)
    probe, rest = text.split("2. Owner", 1)
    owner, host = rest.split("3. Host", 1)
    assert "looks like noise" in probe and "It was the best" not in probe
    assert "MECID 1" in owner and "It was the best" in owner
    assert "GPF" in host and "granule protection fault" in host and "Non-secure PAS access" in host
    assert "isolation boundary" in host and "crypto boundary" in host


def test_probe_text_with_a_wrong_mecid_shows_noise_without_fault(p, realm):
    text = vm.probe_text(p, realm, 32, mecid=2)
    owner = text.split("2. Owner", 1)[1].split("3. Host", 1)[0]
    assert "MECID 2" in owner and "noise" in owner and "protection fault" not in owner


def test_probe_text_marks_dram_blocks_changed_since_an_earlier_probe(p, realm):
    before = p.dram_read(realm, 64)
    raw = bytearray(before)
    raw[5] ^= 1
    p.dram_write(realm, bytes(raw))
    probe = vm.probe_text(p, realm, 64, dram_before=before).split("2. Owner")[0]
    assert [line[0] for line in probe.splitlines() if "0x8" in line and "|" in line] == [">", " ", " ", " "]


def test_looks_like_noise_tells_ciphertext_from_text_and_zeros(p, realm):
    assert vm.looks_like_noise(p.dram_read(realm, 64))
    assert not vm.looks_like_noise(ENGLISH[:64])
    assert not vm.looks_like_noise(bytes(64))


def test_owner_mecid_follows_the_cached_context(p, realm):
    assert vm.owner_mecid(p, realm) == 1 and vm.owner_mecid(p, realm + 2 * G) == 2
    p.mec.clean_invalidate(realm)
    assert vm.owner_mecid(p, realm) is None


def test_importing_the_mec_text_views_loads_no_graphics():
    code = ("import sys, ccalab; from ccalab.viz import mec as vm; p = ccalab.Platform(dram_size=256 << 20); "
            "a = p.ns_dram().base; vm.context_map_text(p, a, a + 16 * 4096); vm.hexdump(b'x'); "
            "vm.side_by_side_text(p, a, 32, ccalab.PAS.NONSECURE); vm.probe_text(p, a); vm.entropy(b'abc'); "
            "assert 'matplotlib' not in sys.modules and 'ipywidgets' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
