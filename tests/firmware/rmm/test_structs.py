"""The structures the host passes by pointer: field offsets, packing and unpacking."""

import struct

import pytest

from ccalab.firmware.rmm import structs as s


def _offsets(layout):
    return {name: off for name, off, _, _ in layout}


def test_realm_params_offsets():
    assert _offsets(s.REALM_PARAMS) == {"flags": 0, "s2sz": 8, "sve_vl": 0x10, "num_bps": 0x18, "num_wps": 0x20,
                                         "pmu_num_ctrs": 0x28, "hash_algo": 0x30, "rpv": 0x400, "vmid": 0x800,
                                         "rtt_base": 0x808, "rtt_level_start": 0x810, "rtt_num_start": 0x818}


def test_rec_params_offsets():
    assert _offsets(s.REC_PARAMS) == {"flags": 0, "mpidr": 0x100, "pc": 0x200, "gprs": 0x300, "num_aux": 0x800,
                                       "aux": 0x808}


def test_rec_run_offsets():
    assert _offsets(s.REC_ENTER) == {"flags": 0, "gprs": 0x200, "gicv3_hcr": 0x300, "gicv3_lrs": 0x308}
    assert s.EXIT_OFFSET == 0x800
    ex = _offsets(s.REC_EXIT)
    assert (ex["exit_reason"], ex["esr"], ex["far"], ex["hpfar"], ex["gprs"]) == (0, 0x100, 0x108, 0x110, 0x200)
    assert (ex["ripas_base"], ex["ripas_top"], ex["ripas_value"], ex["imm"], ex["pmu_ovf_status"]) == (
        0x500, 0x508, 0x510, 0x600, 0x700)
    assert (ex["cntp_ctl"], ex["cntv_cval"], ex["gicv3_misr"], ex["gicv3_vmcr"]) == (0x400, 0x418, 0x388, 0x390)


def test_rsi_structures():
    assert _offsets(s.REALM_CONFIG) == {"ipa_width": 0, "hash_algo": 8, "rpv": 0x200}
    assert _offsets(s.HOST_CALL) == {"imm": 0, "gprs": 8} and s.HOST_CALL_SIZE == 0x100


def test_no_field_overlaps_another_or_leaves_its_page():
    for layout, size in ((s.REALM_PARAMS, 4096), (s.REC_PARAMS, 4096), (s.REC_ENTER, 0x800), (s.REC_EXIT, 0x800),
                         (s.REALM_CONFIG, 4096), (s.HOST_CALL, 0x100)):
        spans = sorted((off, off + struct.calcsize("<" + (f"{n}{c}" if n > 1 else c))) for _, off, c, n in layout)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])) and spans[-1][1] <= size


def test_pack_puts_each_value_at_its_offset_and_unpack_reads_it_back():
    values = {"flags": 5, "s2sz": 40, "hash_algo": 1, "rpv": bytes(range(64)), "vmid": 0x1234,
              "rtt_base": 0x8800_0000, "rtt_level_start": -1, "rtt_num_start": 16}
    page = s.pack(s.REALM_PARAMS, values)
    assert len(page) == 4096
    assert struct.unpack_from("<Q", page, 0)[0] == 5 and page[8] == 40 and page[0x30] == 1
    assert page[0x400:0x440] == bytes(range(64)) and struct.unpack_from("<H", page, 0x800)[0] == 0x1234
    assert struct.unpack_from("<q", page, 0x810)[0] == -1
    back = s.unpack(s.REALM_PARAMS, bytes(page))
    assert {k: back[k] for k in values} == values and back["num_bps"] == 0


def test_arrays_are_zero_filled_and_bounded():
    page = s.pack(s.REC_PARAMS, {"gprs": [1, 2]})
    assert s.unpack(s.REC_PARAMS, page)["gprs"] == [1, 2, 0, 0, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="holds 8"):
        s.pack(s.REC_PARAMS, {"gprs": list(range(9))})


@pytest.mark.parametrize("values,match", [({"nope": 1}, "no field"), ({"s2sz": 256}, "does not fit"),
                                          ({"vmid": -1}, "does not fit"), ({"flags": 1 << 64}, "does not fit")])
def test_pack_refuses_unknown_fields_and_values_too_wide(values, match):
    with pytest.raises(ValueError, match=match):
        s.pack(s.REALM_PARAMS, values)


def test_pack_at_a_base_into_an_existing_buffer():
    buf = bytearray(b"\xFF" * 0x1000)
    s.pack(s.REC_ENTER, {"flags": 3}, base=0x10, buf=buf)
    assert struct.unpack_from("<Q", buf, 0x10)[0] == 3 and buf[0] == 0xFF
    assert s.unpack(s.REC_ENTER, bytes(buf), base=0x10)["flags"] == 3


def test_measured_image_keeps_only_the_named_fields():
    prm = {"flags": 1, "s2sz": 40, "sve_vl": 0, "num_bps": 2, "num_wps": 3, "pmu_num_ctrs": 0, "hash_algo": 0,
           "rpv": b"x" * 64, "vmid": 9, "rtt_base": 0x1000, "rtt_level_start": 0, "rtt_num_start": 1}
    img = s.measured_image(s.REALM_PARAMS, prm, s.REALM_PARAMS_MEASURED)
    assert img == bytes(s.pack(s.REALM_PARAMS, {k: prm[k] for k in s.REALM_PARAMS_MEASURED}))
    assert img[0x400:] == bytes(4096 - 0x400)
    assert s.REALM_PARAMS_MEASURED == ("flags", "s2sz", "sve_vl", "num_bps", "num_wps", "pmu_num_ctrs", "hash_algo")
    assert s.REC_PARAMS_MEASURED == ("flags", "pc", "gprs")


def test_flag_bits():
    assert (s.REALM_FLAG_LPA2, s.REALM_FLAG_SVE, s.REALM_FLAG_PMU, s.REC_FLAG_RUNNABLE) == (1, 2, 4, 1)
    assert (s.ENTER_EMUL_MMIO, s.ENTER_INJECT_SEA, s.ENTER_TRAP_WFI, s.ENTER_TRAP_WFE, s.ENTER_RIPAS_RESPONSE) == (
        1, 2, 4, 8, 16)
