"""Snapshots: a whole platform to one file and back, exactly; other versions and damage refused."""

import time
import zipfile

import numpy as np
import pytest

from ccalab import GPI, PAS, Platform, snapshot
from ccalab.snapshot import SnapshotError, SnapshotVersionError

GiB = 1 << 30


def _busy_platform(**kw):
    p = Platform(**kw)
    ns = p.ns_dram().base
    g = ns + 0x1000_0000
    assert p.monitor.gtsi_delegate(g) == 0
    assert p.monitor.gtsi_delegate(g + 0x20_0000) == 0
    assert p.monitor.gtsi_undelegate(g + 0x20_0000) == 0
    p.phys_write(ns + 0x12345, b"hello, realm", PAS.NONSECURE)
    p.phys_write(g, b"secret", PAS.REALM)
    p.whatif.skip_gpt_tlbi = True
    p.gpc_check(ns, PAS.NONSECURE)
    p.gpc_check(g, PAS.NONSECURE)  # a fault, in the event log
    return p, g


def _assert_same(p, q):
    cfg = p.gpc_config
    dram = [r for r in p.memory_map if r.kind == "dram"]
    for r in dram:
        assert np.array_equal(p.granule_gpis(r.base, r.end), q.granule_gpis(r.base, r.end))
    assert np.array_equal(p.granule_gpis(0, 1 << cfg.t, 1 << cfg.s), q.granule_gpis(0, 1 << cfg.t, 1 << cfg.s))
    assert np.array_equal(snapshot.touched_pages(p.memory), snapshot.touched_pages(q.memory))
    for a in snapshot.touched_pages(p.memory):
        assert p.memory.read(int(a), 4096) == q.memory.read(int(a), 4096)
    assert list(p.events) == list(q.events)
    assert (p.events.next_seq, p.events.dropped, p.events.capacity) == \
           (q.events.next_seq, q.events.dropped, q.events.capacity)
    for name in ("tags", "gpis", "shifts", "counters"):
        assert np.array_equal(getattr(p.gpc_cache, name), getattr(q.gpc_cache, name)), name
    assert p._sysregs == q._sysregs and p.whatif == q.whatif and p.params == q.params
    assert (p.pas_regions, p.memory_map, p.gpt_area) == (q.pas_regions, q.memory_map, q.gpt_area)
    if hasattr(p, "ctx"):
        assert np.array_equal(p.ctx, q.ctx)
    assert (p.monitor.l0_base, p.monitor.l1_tables, p.monitor.booted) == \
           (q.monitor.l0_base, q.monitor.l1_tables, q.monitor.booted)


def test_round_trip_after_delegations_and_writes_is_exact(tmp_path):
    p, g = _busy_platform()
    path = snapshot.save(p, tmp_path / "m.npz")
    q = snapshot.load(path)
    _assert_same(p, q)
    assert q.gpi(g) == GPI.REALM and q.whatif.skip_gpt_tlbi
    # the restored machine keeps working, and the same way as the original
    for m in (p, q):
        assert m.phys_read(p.ns_dram().base + 0x12345, 12, PAS.NONSECURE) == b"hello, realm"
        assert m.phys_read(g, 6, PAS.REALM) == b"secret"
        assert m.monitor.gtsi_undelegate(g) == 0
    _assert_same(p, q)


def test_event_data_keeps_its_types(tmp_path):
    p, _ = _busy_platform()
    q = snapshot.load(snapshot.save(p, tmp_path / "m.npz"))
    boot = [e for e in q.events if e.kind == "gpt.boot" and "l1_tables" in e.data][0]
    assert all(isinstance(k, int) for k in boot.data["l1_tables"])
    assert isinstance(boot.data["regions"][0], tuple)
    writes = [e for e in q.events if e.kind == "gpt.write"]
    assert writes and writes[0].data == [e for e in p.events if e.kind == "gpt.write"][0].data


def test_a_two_gib_machine_saves_small_and_fast(tmp_path):
    p, _ = _busy_platform(dram_size=2 * GiB)
    t = time.perf_counter()
    path = snapshot.save(p, tmp_path / "big")
    took = time.perf_counter() - t
    assert path.suffix == ".npz" and path.exists()
    assert path.stat().st_size < 512 * 1024
    assert took < 5.0
    assert snapshot.info(path)["pages"] < 200


def test_a_machine_with_two_dram_banks_and_a_custom_layout_round_trips(tmp_path):
    from ccalab.course.lab01 import boot, make_exercise

    p, _ = _busy_platform(dram_size=3 * GiB)
    p.phys_write(0x8_8000_0000 + 0x4000, b"bank one", PAS.NONSECURE)
    q = snapshot.load(snapshot.save(p, tmp_path / "m.npz"))
    _assert_same(p, q)
    assert q.memory.read(0x8_8000_0000 + 0x4000, 8) == b"bank one"
    import importlib.util
    import pathlib

    sol = pathlib.Path(__file__).resolve().parents[1] / "labs" / "solutions" / "01-pas-layout.py"
    spec = importlib.util.spec_from_file_location("_sol", sol)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    lab = boot(mod.solve(1), seed=1)
    assert make_exercise(1).memory_map == lab.memory_map
    _assert_same(lab, snapshot.load(snapshot.save(lab, tmp_path / "lab.npz")))


def test_touched_pages_without_mincore_finds_the_same_pages(monkeypatch):
    p, _ = _busy_platform()
    want = snapshot.touched_pages(p.memory)
    monkeypatch.setattr(snapshot, "_resident", lambda *a: None)
    assert np.array_equal(snapshot.touched_pages(p.memory), want)
    assert want.size and not (want % 4096).any()


def test_a_snapshot_from_another_version_is_refused_naming_both(tmp_path, monkeypatch):
    p, _ = _busy_platform()
    monkeypatch.setattr(snapshot, "__version__", "0.0.1")
    path = snapshot.save(p, tmp_path / "old.npz")
    monkeypatch.undo()
    with pytest.raises(SnapshotVersionError) as info:
        snapshot.load(path)
    msg = str(info.value)
    assert "0.0.1" in msg and snapshot.__version__ in msg
    assert snapshot.info(path)["ccalab_version"] == "0.0.1"


def test_a_truncated_snapshot_gives_a_clear_error(tmp_path):
    p, _ = _busy_platform()
    path = snapshot.save(p, tmp_path / "m.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SnapshotError, match="not a readable ccalab snapshot"):
        snapshot.load(path)


def test_flipped_bytes_in_a_snapshot_give_a_clear_error(tmp_path):
    p, _ = _busy_platform()
    path = snapshot.save(p, tmp_path / "m.npz")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("page_data.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 40
    for i in range(start, start + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError):
        snapshot.load(path)


def test_a_file_that_is_not_a_snapshot_is_refused(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(SnapshotError):
        snapshot.load(text)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.arange(3))
    with pytest.raises(SnapshotError, match="lacks"):
        snapshot.load(other)
    with pytest.raises(FileNotFoundError):
        snapshot.load(tmp_path / "missing.npz")


def test_save_takes_a_platform():
    with pytest.raises(TypeError):
        snapshot.save("not a platform", "x.npz")


def test_snapshots_hold_no_pickles(tmp_path):
    p, _ = _busy_platform()
    path = snapshot.save(p, tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_snapshots_cover_every_piece_of_platform_state():
    """A new attribute on the platform (or its monitor, cache, log) must be added to snapshots."""
    import dataclasses

    p = Platform()
    live = {"Platform": set(vars(p)), "Monitor": set(vars(p.monitor)), "GPCCache": set(vars(p.gpc_cache)),
            "EventLog": set(vars(p.events)), "WhatIf": {f.name for f in dataclasses.fields(p.whatif)},
            "Rmm": set(vars(p.rmm)), "GranuleTracker": set(vars(p.rmm.granules))}
    for name, attrs in live.items():
        assert attrs <= snapshot.COVERED[name], (
            f"{name} has attributes {sorted(attrs - snapshot.COVERED[name])} that ccalab.snapshot does not "
            "know about: save and restore them, then update snapshot.COVERED")


def test_round_trip_keeps_pes_their_registers_and_tlbs(tmp_path):
    from ccalab import snapshot
    from ccalab.scenarios import two_stage_guest

    g = two_stage_guest(pages=4)
    g.pe.translate(g.va)
    path = snapshot.save(g.platform, tmp_path / "guest")
    q = snapshot.load(path)
    pe = q.pe(0)
    assert pe.sysreg("VTTBR_EL2") == g.pe.sysreg("VTTBR_EL2")
    assert (pe.pctx == g.pe.pctx).all()
    r = pe.translate(g.va)
    assert r.ok and r.tlb_hit and r.pa == g.data


def test_round_trip_keeps_encrypted_memory_keys_and_cache_tags(tmp_path):
    from ccalab import PAS, Platform, snapshot

    p = Platform(dram_size=256 << 20)
    g = p.ns_dram().base + (8 << 20)
    p.monitor.gtsi_delegate(g)
    p.phys_write(g, b"realm secret" * 300, PAS.REALM, mecid=4)
    raw = p.dram_read(g, 4096)
    q = snapshot.load(snapshot.save(p, tmp_path / "mec"))
    assert q.dram_read(g, 4096) == raw
    assert q.phys_read(g, 12, PAS.REALM, mecid=4) == b"realm secret"
    q.mec.clean_invalidate(g)  # refetched from DRAM: the key came back too
    assert q.phys_read(g, 12, PAS.REALM, mecid=4) == b"realm secret"


def test_round_trip_keeps_the_rmm_granule_tracker(tmp_path):
    from ccalab.firmware.rmm import GranuleState, RmiFid

    p = Platform(dram_size=3 << 30)  # two DRAM banks
    p.rmm.debug = True
    g0, g1 = p.ns_dram().base + (4 << 20), 0x8_8000_0000 + (7 << 20)
    for g in (g0, g0 + 0x1000, g1):
        assert p.smc(RmiFid.RMI_GRANULE_DELEGATE, g) == (0,)
    assert p.smc(RmiFid.RMI_GRANULE_UNDELEGATE, g0 + 0x1000) == (0,)
    from ccalab.host import Host, RealmConfig

    realm = Host(p).build_realm(RealmConfig(program="hello", recs=2))  # its RD's refcount counts 2 RECs
    rd = realm.rd
    q = snapshot.load(snapshot.save(p, tmp_path / "rmm"))
    _assert_same(p, q)
    for a, b in zip(p.rmm.granules.state_arrays + p.rmm.granules.refcount_arrays,
                    q.rmm.granules.state_arrays + q.rmm.granules.refcount_arrays):
        assert np.array_equal(a, b)
    assert q.rmm.debug is True
    assert q.rmm.granules.state(g0) == GranuleState.DELEGATED and q.rmm.granules.state(g1) == GranuleState.DELEGATED
    assert q.rmm.granules.state(rd) == GranuleState.RD and q.rmm.granules.refcount(rd) == 2
    assert q.rmm.granules.state(g0 + 0x1000) == GranuleState.UNDELEGATED
    assert q.rmm.measurement(rd, 0) == p.rmm.measurement(rd, 0) and len(q.rmm.recs) == 2
    q.rmm.granules.check_invariants()
    q.rmm.check_rtt_invariants()
    # the restored RMM carries on: the delegated granule is refused a second delegation, then given back
    assert q.smc(RmiFid.RMI_GRANULE_DELEGATE, g0) == (1,)
    assert q.smc(RmiFid.RMI_GRANULE_UNDELEGATE, g0) == (0,) and q.gpi(g0) == GPI.NONSECURE
