"""The memory encryption engine on the memory path (spec/mec.md sections 3, 4, 6, 7)."""

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ccalab import PAS, GranuleProtectionFault, Platform
from ccalab.arch.mec.engine import context_id
from ccalab.firmware.monitor import E_RMM_INVAL, E_RMM_OK, RMM_MEC_REFRESH

G = 4096


@pytest.fixture
def p():
    return Platform(dram_size=256 << 20)


@pytest.fixture
def realm_granules(p):
    base = p.ns_dram().base + (16 << 20)
    for g in range(base, base + 8 * G, G):
        assert p.monitor.gtsi_delegate(g) == 0
    return base


def openssl_encrypt(key: bytes, pa: int, page: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.XTS((pa >> 12).to_bytes(16, "little"))).encryptor()
    return enc.update(page) + enc.finalize()


def test_dram_holds_xts_ciphertext_of_the_page_under_its_contexts_key(p):
    pa = p.ns_dram().base + 5 * G
    data = bytes(range(256)) * 16
    p.phys_write(pa, data, PAS.NONSECURE)
    key = p.monitor._mec_keys[context_id(PAS.NONSECURE)]
    assert p.dram_read(pa, G) == openssl_encrypt(key, pa, data)  # an independent reference
    assert p.phys_read(pa, G, PAS.NONSECURE) == data


def test_same_plaintext_at_two_addresses_gives_two_ciphertexts(p):
    a, b = p.ns_dram().base + 10 * G, p.ns_dram().base + 11 * G
    p.phys_write(a, b"\x00" * G, PAS.NONSECURE)
    p.phys_write(b, b"\x00" * G, PAS.NONSECURE)
    assert p.dram_read(a, G) != p.dram_read(b, G)
    # and within one page, equal 16-byte blocks encrypt differently too (the tweak moves per block)
    c = p.dram_read(a, 32)
    assert c[:16] != c[16:]


def test_same_plaintext_under_two_mecids_gives_two_ciphertexts(p, realm_granules):
    a = realm_granules
    p.phys_write(a, b"secret!!" * 512, PAS.REALM, mecid=1)
    first = p.dram_read(a, G)
    p.phys_write(a, b"secret!!" * 512, PAS.REALM, mecid=2)
    assert p.dram_read(a, G) != first


def test_a_realm_page_read_by_a_probe_is_noise_and_the_host_faults(p, realm_granules):
    a = realm_granules
    secret = b"attestation key: 0123456789abcdef" * 100
    p.phys_write(a, secret, PAS.REALM, mecid=7)
    raw = p.dram_read(a, len(secret))
    assert secret[:16] not in raw and b"attestation" not in raw
    counts = np.bincount(np.frombuffer(raw, np.uint8), minlength=256)
    assert counts.max() < 40  # no byte value stands out: looks uniform
    with pytest.raises(GranuleProtectionFault):  # the isolation boundary
        p.phys_read(a, 16, PAS.NONSECURE)


def test_a_mis_keyed_access_reads_noise_without_a_fault(p, realm_granules):
    a = realm_granules
    p.phys_write(a, b"A" * G, PAS.REALM, mecid=1)
    wrong = p.phys_read(a, G, PAS.REALM, mecid=2)  # no fault: MEC is not access control
    assert wrong != b"A" * G
    assert p.phys_read(a, G, PAS.REALM, mecid=1) == b"A" * G  # the right key still works


def test_crypto_erase_with_the_flush_makes_the_data_unreadable(p, realm_granules):
    a = realm_granules
    p.phys_write(a, b"B" * G, PAS.REALM, mecid=3)
    assert p.crypto_erase(3) == E_RMM_OK
    assert p.phys_read(a, G, PAS.REALM, mecid=3) != b"B" * G
    assert [e.kind for e in p.events][-2:] == ["dc.cipae", "mec.refresh"]


def test_crypto_erase_without_the_flush_leaks_the_cached_plaintext(p, realm_granules):
    a = realm_granules
    p.phys_write(a, b"C" * G, PAS.REALM, mecid=4)
    p.whatif.skip_mec_flush = True
    assert p.crypto_erase(4) == E_RMM_OK
    assert p.phys_read(a, G, PAS.REALM, mecid=4) == b"C" * G  # plaintext outlived the key
    # and when the line is finally written back it goes out under the NEW key: the data survives
    p.memory.write(a, b"C")  # dirty the cached line
    p.mec.clean_invalidate(a)
    assert p.phys_read(a, G, PAS.REALM, mecid=4) == b"C" * G


def test_no_integrity_one_flipped_bit_garbles_exactly_one_block(p, realm_granules):
    a = realm_granules
    plain = bytes(range(256)) * 16
    p.phys_write(a, plain, PAS.REALM, mecid=5)
    raw = bytearray(p.dram_read(a, G))
    raw[100] ^= 0x04  # block 6 (bytes 96..111)
    p.dram_write(a, bytes(raw))
    assert p.phys_read(a, G, PAS.REALM, mecid=5) == plain  # the cached plaintext hides it...
    p.mec.clean_invalidate(a)
    got = p.phys_read(a, G, PAS.REALM, mecid=5)  # ...until the line is refetched: no fault
    diff = [i // 16 for i in range(G) if got[i] != plain[i]]
    assert set(diff) == {6} and len(diff) > 8


def test_replay_of_old_ciphertext_restores_old_plaintext(p, realm_granules):
    a = realm_granules
    p.phys_write(a, b"old!" * 1024, PAS.REALM, mecid=6)
    old = p.dram_read(a, G)
    p.phys_write(a, b"new!" * 1024, PAS.REALM, mecid=6)
    p.dram_write(a, old)
    p.mec.clean_invalidate(a)
    assert p.phys_read(a, G, PAS.REALM, mecid=6) == b"old!" * 1024


def test_another_contexts_dirty_line_is_written_back_under_its_own_key(p, realm_granules):
    a = realm_granules
    p.phys_write(a, b"D" * G, PAS.REALM, mecid=1)
    p.memory.write(a, b"E")  # a later store above the PoE, not yet in DRAM
    p.phys_read(a, 16, PAS.REALM, mecid=2)  # MECID 2 evicts the line: written back under MECID 1
    assert p.phys_read(a, 1, PAS.REALM, mecid=1) == b"E"


def test_mecid_rules_and_refresh_errors(p):
    with pytest.raises(ValueError, match="only Realm"):
        p.phys_read(p.ns_dram().base, 8, PAS.NONSECURE, mecid=3)
    with pytest.raises(ValueError, match="16 bits"):
        p.phys_read(p.ns_dram().base, 8, PAS.REALM, mecid=1 << 16)
    assert p.monitor.mec_refresh(1 << 16) == E_RMM_INVAL
    assert p.monitor.smc(RMM_MEC_REFRESH, (9 << 32) | 1) == E_RMM_OK
    assert p.monitor.smc(RMM_MEC_REFRESH, (9 << 32) | 2) == E_RMM_INVAL & (2**64 - 1)  # MBZ bit


def test_delegation_cleans_to_the_popa_so_the_realm_cannot_see_host_data(p):
    g = p.ns_dram().base + 40 * G
    p.phys_write(g, b"host data" * 400, PAS.NONSECURE)
    p.monitor.gtsi_delegate(g)
    seen = p.phys_read(g, G, PAS.REALM, mecid=1)
    assert b"host data" not in seen  # the realm reads the host's ciphertext under its own key


def test_firmware_written_gpt_reaches_dram_encrypted_under_root(p):
    gpt = p.region("GPT").base
    plain = p.memory.read(gpt, 64)
    raw = p.dram_read(gpt, 64)
    assert raw != plain and any(raw)
