from hypothesis import given, strategies as st

from ccalab.arch.gpt.descriptors import (decode_l0, decode_l1, describe, l0_block, l0_table, l1_contiguous,
                                         l1_granules)

VALID = [0, 8, 9, 10, 11, 15]


@given(st.sampled_from(VALID))
def test_l0_block_round_trip(g):
    d = decode_l0(l0_block(g))
    assert d.kind == "block" and d.gpi == g and d.valid


def test_l0_table_and_invalid():
    d = decode_l0(l0_table(0xFFF2_0000))
    assert d.kind == "table" and d.next_table == 0xFFF2_0000 and d.valid
    assert not decode_l0(l0_table(0x1000) | (1 << 5)).valid  # RES0 [11:4]
    assert not decode_l0(l0_block(9) | (1 << 8)).valid
    assert decode_l0(0b0101).kind == "invalid"
    assert not decode_l0(l0_block(0b0011)).valid


@given(st.lists(st.sampled_from(VALID), min_size=16, max_size=16))
def test_l1_granules_round_trip(gpis):
    d = decode_l1(l1_granules(gpis))
    if gpis[0] == 1:
        return
    assert d.kind == "granules" and list(d.gpis) == gpis and d.valid


def test_l1_contiguous_and_reserved():
    d = decode_l1(l1_contiguous(11, 32 << 20))
    assert d.kind == "contiguous" and d.contig_size == 32 << 20 and d.gpi == 11
    assert not decode_l1(0b1011_0001).valid  # Contig = 00
    assert not decode_l1(l1_granules([9] * 15 + [0b0110])).valid  # one reserved nibble
    assert "reserved" in describe(decode_l1(l1_granules([9] * 15 + [0b0110])))
