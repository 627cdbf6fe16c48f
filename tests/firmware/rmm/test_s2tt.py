"""RTT entry encoding, decoding, geometry and the RTT walk."""

from types import SimpleNamespace

import numpy as np
import pytest

from ccalab.firmware.rmm import s2tt
from ccalab.firmware.rmm.s2tt import Hipas, Ripas

PA = 0x8_1234_5000 & s2tt.OA_MASK
BLOCK2 = 0x8_1240_0000  # 2 MiB aligned
LIVE = {Hipas.TABLE, Hipas.ASSIGNED, Hipas.ASSIGNED_NS}


@pytest.mark.parametrize("ripas", list(Ripas))
def test_unassigned_entries_are_invalid_and_carry_the_ripas(ripas):
    e = s2tt.unassigned(ripas)
    assert e & 1 == 0 and not e & s2tt.NS and (e >> 1) & 3 == ripas and (e >> 5) & 7 == 0
    for level in range(4):
        assert s2tt.decode(e, level) == (Hipas.UNASSIGNED, ripas, 0)
    assert s2tt.unassigned(Ripas.EMPTY) == 0  # a zeroed RTT is all UNASSIGNED/EMPTY


def test_unassigned_ns_is_invalid_with_the_ns_bit():
    e = s2tt.unassigned_ns()
    assert e == 1 << 55 and s2tt.decode(e, 3) == (Hipas.UNASSIGNED_NS, Ripas.EMPTY, 0)


@pytest.mark.parametrize("level,pa,low", [(3, PA, 0b11), (2, BLOCK2, 0b01), (1, 0x8_4000_0000, 0b01)])
def test_assigned_ram_is_a_valid_normal_writeback_page_or_block(level, pa, low):
    e = s2tt.assigned(pa, Ripas.RAM, level)
    assert e & 3 == low and e & s2tt.OA_MASK == pa
    assert (e >> 2) & 7 == 0b110 and (e >> 6) & 3 == 0b11 and (e >> 8) & 3 == 0b11 and e & (1 << 10)
    assert not e & s2tt.NS
    assert s2tt.decode(e, level) == (Hipas.ASSIGNED, Ripas.RAM, pa)


@pytest.mark.parametrize("ripas", [Ripas.EMPTY, Ripas.DESTROYED])
def test_assigned_empty_or_destroyed_is_invalid_but_remembers_the_granule(ripas):
    e = s2tt.assigned(PA, ripas, 3)
    assert e & 1 == 0 and (e >> 5) & 7 == 1 and (e >> 1) & 3 == ripas
    assert s2tt.decode(e, 3) == (Hipas.ASSIGNED, ripas, PA)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_assigned_ns_keeps_the_hosts_attributes_and_adds_af_xn_ns(level):
    desc = PA | (0b101 << 2) | (0b01 << 6) | (1 << 10)  # AF in the host's value is dropped
    e = s2tt.assigned_ns(desc, level)
    assert e & s2tt.NS and e & (1 << 10) and (e >> 53) & 3 == 2
    assert (e >> 2) & 7 == 0b101 and (e >> 6) & 3 == 0b01
    assert e & 3 == (0b11 if level == 3 else 0b01)
    assert s2tt.decode(e, level) == (Hipas.ASSIGNED_NS, Ripas.EMPTY, PA)
    assert s2tt.host_attrs(e) == PA | (0b101 << 2) | (0b01 << 6)


def test_a_table_entry_is_a_table_above_level_3_and_a_page_at_level_3():
    e = s2tt.table(PA)
    assert e == PA | 0b11
    for level in range(3):
        assert s2tt.decode(e, level) == (Hipas.TABLE, Ripas.EMPTY, PA)
    assert s2tt.decode(e, 3)[0] == Hipas.ASSIGNED


def test_is_live_and_names():
    entries = {
        s2tt.unassigned(Ripas.EMPTY): ("UNASSIGNED/EMPTY", False),
        s2tt.unassigned(Ripas.RAM): ("UNASSIGNED/RAM", False),
        s2tt.unassigned(Ripas.DESTROYED): ("UNASSIGNED/DESTROYED", False),
        s2tt.assigned(PA, Ripas.RAM, 3): ("ASSIGNED/RAM", True),
        s2tt.assigned(PA, Ripas.EMPTY, 3): ("ASSIGNED/EMPTY", True),
        s2tt.assigned(PA, Ripas.DESTROYED, 3): ("ASSIGNED/DESTROYED", True),
        s2tt.unassigned_ns(): ("UNASSIGNED_NS", False), s2tt.assigned_ns(PA, 3): ("ASSIGNED_NS", True),
    }
    for e, (name, live) in entries.items():
        assert s2tt.name(e, 3) == name and s2tt.is_live(e, 3) is live
    assert s2tt.name(s2tt.table(PA), 2) == "TABLE" and s2tt.is_live(s2tt.table(PA), 2)


def test_every_encoding_decodes_to_what_built_it():
    made = []
    for level in (1, 2, 3):
        pa = {1: 0x8_4000_0000, 2: BLOCK2, 3: PA}[level]
        for r in Ripas:
            made.append((s2tt.unassigned(r), level, (Hipas.UNASSIGNED, r, 0)))
            made.append((s2tt.assigned(pa, r, level), level, (Hipas.ASSIGNED, r, pa)))
        made.append((s2tt.unassigned_ns(), level, (Hipas.UNASSIGNED_NS, Ripas.EMPTY, 0)))
        made.append((s2tt.assigned_ns(pa, level), level, (Hipas.ASSIGNED_NS, Ripas.EMPTY, pa)))
        if level < 3:
            made.append((s2tt.table(PA), level, (Hipas.TABLE, Ripas.EMPTY, PA)))
    assert all(s2tt.decode(e, lvl) == want for e, lvl, want in made)
    for level in (1, 2, 3):  # distinct states have distinct encodings
        ents = [e for e, lvl, _ in made if lvl == level]
        assert len(set(ents)) == len(ents)


# --- geometry ---------------------------------------------------------------------------------------------
#: Arm ARM AArch64.S2InconsistentSL for 4 KB granules: the IPA widths each start level allows.
ALLOWED = {0: range(40, 53), 1: range(31, 44), 2: range(22, 35), 3: range(13, 26)}


@pytest.mark.parametrize("sl", [-2, -1, 0, 1, 2, 3, 4])
def test_level_consistent_allows_exactly_the_arm_arm_widths(sl):
    allowed = set(ALLOWED.get(sl, ()))
    assert {s for s in range(0, 70) if s2tt.level_consistent(s, sl)} == allowed


@pytest.mark.parametrize("s2sz,sl,num", [(40, 0, 1), (48, 0, 1), (32, 2, 4), (34, 2, 16), (40, 1, 2), (42, 1, 8),
                                         (43, 1, 16), (39, 1, 1), (31, 1, 1), (25, 3, 16), (13, 3, 1)])
def test_rtt_num_start_examples(s2sz, sl, num):
    assert s2tt.rtt_num_start(s2sz, sl) == num


@pytest.mark.parametrize("sl", [0, 1, 2, 3])
def test_the_root_tables_cover_the_ipa_space_exactly(sl):
    for s2sz in ALLOWED[sl]:
        if sl == 0 and s2sz > 48:
            continue  # 52-bit IPAs start at level -1 with LPA2
        n = s2tt.rtt_num_start(s2sz, sl)
        covered = n * s2tt.ENTRIES * s2tt.LEVEL_SIZE[sl]
        assert 1 <= n <= 16 and covered >= 1 << s2sz
        assert n == 1 or covered // 2 < 1 << s2sz  # no more tables than needed


def test_level_sizes_and_index():
    assert s2tt.LEVEL_SIZE == {0: 1 << 39, 1: 1 << 30, 2: 1 << 21, 3: 1 << 12}
    ipa = (5 << 39) | (6 << 30) | (7 << 21) | (8 << 12) | 0x123
    assert [s2tt.index(ipa, lvl) for lvl in range(4)] == [5, 6, 7, 8]


# --- the walk ---------------------------------------------------------------------------------------------
def _memory():
    words = np.zeros((1 << 20) // 8, np.int64)  # 1 MiB of "memory" at PA 0

    def put(rtt, idx, value):
        words[(rtt >> 3) + idx] = np.uint64(value).view(np.int64)

    return words, put


def test_walk_follows_tables_and_stops_at_the_first_non_table_entry():
    words, put = _memory()
    realm = SimpleNamespace(rtt_level_start=0, rtt_base=0x1000)
    put(0x1000, 0, s2tt.table(0x2000))
    put(0x2000, 0, s2tt.table(0x3000))
    put(0x3000, 1, s2tt.table(0x4000))
    put(0x4000, 5, s2tt.assigned(0x80_0000, Ripas.RAM, 3))
    w = s2tt.walk(words, realm, (1 << 21) | (5 << 12), 3)
    assert (w.level, w.rtt, w.entry_pa) == (3, 0x4000, 0x4000 + 5 * 8)
    assert s2tt.decode(w.entry, 3) == (Hipas.ASSIGNED, Ripas.RAM, 0x80_0000)
    w = s2tt.walk(words, realm, (1 << 21), 1)  # stops at the level asked for
    assert (w.level, w.rtt, w.entry) == (1, 0x2000, s2tt.table(0x3000))
    w = s2tt.walk(words, realm, 2 << 21, 3)  # level-2 entry 2 is not a table
    assert (w.level, w.rtt, w.entry_pa) == (2, 0x3000, 0x3000 + 16)


def test_walk_picks_the_concatenated_root_table():
    words, put = _memory()
    realm = SimpleNamespace(rtt_level_start=1, rtt_base=0x10000)  # e.g. 42 bits from level 1: 8 tables
    ipa = (3 << 39) | (7 << 30)
    put(0x10000 + 3 * 0x1000, 7, s2tt.unassigned(Ripas.RAM))
    w = s2tt.walk(words, realm, ipa, 3)
    assert (w.level, w.rtt, w.entry_pa) == (1, 0x13000, 0x13000 + 7 * 8)
    assert s2tt.decode(w.entry, 1) == (Hipas.UNASSIGNED, Ripas.RAM, 0)


def test_walk_reads_entries_with_the_top_bit_set():
    words, put = _memory()
    realm = SimpleNamespace(rtt_level_start=3, rtt_base=0)
    e = s2tt.assigned_ns(0x5000 | (0b110 << 2), 3) | (1 << 63)  # software bit 63
    put(0, 1, e)
    assert s2tt.walk(words, realm, 0x1000, 3).entry == e
