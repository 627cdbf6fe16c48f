"""Realm measurements: the RIM a realm built through the RMI gets equals the one computed without a
machine, each descriptor's byte layout, and the REM extension."""

import hashlib
import struct

import pytest

from ccalab.firmware.rmm import measurement as m
from ccalab.firmware.rmm.measurement import HashAlgo, predict_rim
from ccalab.firmware.rmm.s2tt import Ripas
from ccalab.firmware.rmm.structs import REC_PARAMS

from ._realmkit import MB, Kit, guest_realm

H = {0: hashlib.sha256, 1: hashlib.sha512}


def _measured_params_image(prm):
    image = bytearray(4096)
    struct.pack_into("<Q", image, 0, prm["flags"])
    for name, off in (("s2sz", 8), ("sve_vl", 0x10), ("num_bps", 0x18), ("num_wps", 0x20), ("pmu_num_ctrs", 0x28),
                      ("hash_algo", 0x30)):
        image[off] = prm[name]
    return bytes(image)


@pytest.mark.parametrize("algo", [0, 1])
def test_realm_create_rim_is_the_hash_of_the_measured_fields_only(algo):
    prm = {"flags": 0, "s2sz": 44, "sve_vl": 0, "num_bps": 3, "num_wps": 2, "pmu_num_ctrs": 0, "hash_algo": algo,
           "rpv": b"x" * 64, "vmid": 7, "rtt_base": 0x8000_0000, "rtt_level_start": 1, "rtt_num_start": 32}
    rim = m.rim_init(algo, prm)
    assert rim == H[algo](_measured_params_image(prm)).digest() and len(rim) == (32, 64)[algo]
    assert m.rim_init(algo, dict(prm, rpv=b"y" * 64, vmid=9, rtt_base=0, rtt_level_start=0)) == rim


def test_data_descriptor_layout_by_hand():
    rim, content = bytes(range(32)), bytes(range(100, 164))
    d = m.data_descriptor(rim, 0x1234_5000, 1, content)
    assert len(d) == 0x100
    assert d[0] == 0 and d[1:8] == bytes(7)  # type DATA at 0
    assert struct.unpack_from("<Q", d, 8)[0] == 0x100  # len at 8
    assert d[0x10:0x30] == rim and d[0x30:0x50] == bytes(32)  # old RIM, zero-padded to 64 bytes
    assert struct.unpack_from("<QQ", d, 0x50) == (0x1234_5000, 1)  # ipa at 0x50, flags at 0x58
    assert d[0x60:0xA0] == content and d[0xA0:] == bytes(0x60)  # content hash at 0x60


def test_rec_descriptor_layout_by_hand():
    rim, content = bytes(range(64)), bytes(range(64, 96))
    d = m.rec_descriptor(rim, content)
    assert len(d) == 0x100 and d[0] == 1 and struct.unpack_from("<Q", d, 8)[0] == 0x100
    assert d[0x10:0x50] == rim and d[0x50:0x70] == content and d[0x70:] == bytes(0x90)


def test_ripas_descriptor_layout_by_hand():
    d = m.ripas_descriptor(b"\xAA" * 32, 0x20_0000, 0x40_0000)
    assert len(d) == 0x100 and d[0] == 2 and struct.unpack_from("<Q", d, 8)[0] == 0x100
    assert d[0x10:0x30] == b"\xAA" * 32 and struct.unpack_from("<QQ", d, 0x50) == (0x20_0000, 0x40_0000)
    assert d[0x60:] == bytes(0xA0)


def test_rec_content_hash_keeps_only_flags_pc_and_gprs():
    prm = {"flags": 1, "mpidr": 0x0302_0105, "pc": 0x8000, "gprs": list(range(1, 9)), "num_aux": 16,
           "aux": list(range(0x1000, 0x11000, 0x1000))}
    image = bytearray(4096)
    struct.pack_into("<Q", image, 0, 1)
    struct.pack_into("<Q", image, 0x200, 0x8000)
    struct.pack_into("<8Q", image, 0x300, *range(1, 9))
    assert m.rec_content_hash(0, prm) == hashlib.sha256(bytes(image)).digest()
    assert m.rec_content_hash(0, dict(prm, mpidr=0, num_aux=0, aux=[])) == m.rec_content_hash(0, prm)


@pytest.mark.parametrize("algo", [0, 1])
def test_extensions_are_the_hash_of_the_descriptor(algo):
    rim = H[algo](b"start").digest()
    page = b"page".ljust(4096, b"\0")
    assert m.extend_data(algo, rim, 0x3000, 1, page) == H[algo](m.data_descriptor(
        rim, 0x3000, 1, H[algo](page).digest())).digest()
    assert m.extend_data(algo, rim, 0x3000, 0, page) == H[algo](m.data_descriptor(rim, 0x3000, 0, b"")).digest()
    assert m.extend_ripas(algo, rim, 0, 0x1000) == H[algo](m.ripas_descriptor(rim, 0, 0x1000)).digest()


@pytest.mark.parametrize("algo", [0, 1])
def test_rsi_measurement_extend_is_h_of_the_rem_and_the_value(algo):
    rem = bytes(32 if algo == 0 else 64)
    assert m.extend_rem(algo, rem, b"abc") == H[algo](rem + b"abc").digest()
    assert m.extend_rem(algo, rem, b"") == H[algo](rem).digest()


def test_hash_algorithms():
    assert (HashAlgo.SHA_256, HashAlgo.SHA_512) == (0, 1)
    assert [a.digest_size for a in HashAlgo] == [32, 64]
    assert HashAlgo.SHA_512.new(b"x").digest() == hashlib.sha512(b"x").digest()
    assert m.digest(0, b"x") == hashlib.sha256(b"x").digest()


def test_predict_rim_rejects_an_unknown_step():
    with pytest.raises(ValueError, match="unknown measured step"):
        predict_rim({"flags": 0, "s2sz": 40, "sve_vl": 0, "num_bps": 1, "num_wps": 1, "pmu_num_ctrs": 0,
                     "hash_algo": 0}, [("dma", 0)])


@pytest.mark.parametrize("algo", [0, 1])
def test_a_realm_built_through_the_rmi_has_the_predicted_rim(p, algo):
    kit = Kit(p)
    realm = kit.realm(hash_algo=algo)
    steps = []
    pages = {0x0: (b"kernel".ljust(4096, b"\0"), 1), 0x1000: (b"initrd".ljust(4096, b"\0"), 0),
             0x5000: (bytes(4096), 1)}
    for ipa, (page, flags) in pages.items():
        kit.data(realm, ipa, page, flags)
        steps.append(("data", ipa, page, flags))
    kit.init_ripas(realm, 0x2000, 0x4000)  # two level-3 entries: two descriptors
    steps += [("ripas", 0x2000, 0x3000), ("ripas", 0x3000, 0x4000)]
    kit.rtts(realm, 4 * MB, 2)
    kit.init_ripas(realm, 4 * MB, 8 * MB)  # two level-2 blocks
    steps += [("ripas", 4 * MB, 6 * MB), ("ripas", 6 * MB, 8 * MB)]
    rec0 = kit.rec_params(0, runnable=True, pc=0x0, gprs=[1, 2, 3])
    kit.ok("RMI_REC_CREATE", realm.rd, kit.granule(), kit.params_page(REC_PARAMS, rec0))
    steps.append(("rec", rec0))
    kit.rec(realm, runnable=False)  # not measured
    kit.data_unknown(realm, 0x6000)  # not measured
    kit.activate(realm)
    assert realm.measurements[0] == predict_rim(realm.params, steps)
    assert len(realm.measurements[0]) == (32, 64)[algo]
    # and the order matters
    assert realm.measurements[0] != predict_rim(realm.params, steps[1:2] + steps[:1] + steps[2:])


@pytest.mark.parametrize("hash_algo", ["sha256", "sha512"])
def test_a_realm_built_by_the_host_model_has_the_predicted_rim(p, hash_algo):
    realm = guest_realm(p, "hello", hash_algo=hash_algo, ram_size=4 * MB)
    cfg = realm.cfg
    image = cfg.image_bytes()
    steps = [("data", i, image[i:i + 4096], 1) for i in range(0, len(image), 4096)]
    steps += [("ripas", a, a + 4096) for a in range(len(image), 2 * MB, 4096)]  # the rest of the first table
    steps.append(("ripas", 2 * MB, 4 * MB))  # the next 2 MiB: one level-2 entry, one descriptor
    steps.append(("rec", {"flags": 1, "pc": 0, "gprs": cfg.boot_gprs()}))
    assert realm.rim == predict_rim(cfg.params(), steps)


def test_the_rim_after_each_measured_command_is_in_the_event_log(p):
    kit = Kit(p)
    start = p.events.next_seq
    realm = kit.realm()
    kit.data(realm, 0, b"x")
    rims = [e.data["rim"] for e in p.events.since(start) if e.kind == "rmi" and "rim" in e.data]
    assert len(rims) == 2 and rims[-1] == realm.measurements[0] and rims[0] != rims[1]


def test_init_ripas_descriptors_do_not_depend_on_the_ripas_kept(p):
    kit = Kit(p)
    a, b = kit.realm(), kit.realm()
    for realm in (a, b):
        kit.rtts(realm, 0)
    kit.init_ripas(a, 0x1000, 0x2000)
    kit.init_ripas(b, 0x1000, 0x2000)
    kit.init_ripas(b, 0x1000, 0x2000)  # RAM already: measured again
    assert b.measurements[0] == m.extend_ripas(0, a.measurements[0], 0x1000, 0x2000)
    assert kit.read_entry(b, 0x1000, 3)[3] == Ripas.RAM
