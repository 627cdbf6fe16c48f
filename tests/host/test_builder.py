"""Building, running and tearing down realms: the RMI sequence, the granules it leaves, the RIM it
measures, and the layouts the host can ask for."""

import pytest

from ccalab import GPI
from ccalab.firmware.rmm import s2tt
from ccalab.firmware.rmm.granule import GranuleState
from ccalab.firmware.rmm.measurement import HashAlgo, predict_rim
from ccalab.firmware.rmm.objects import RealmState
from ccalab.guest import header
from ccalab.host import BuildStep, RealmConfig, RunReport

GRANULE = 4096
MB = 1 << 20


def state_counts(p):
    return {s: n for s, n in p.rmm.granules.counts().items() if s != GranuleState.UNDELEGATED}


def expected_rim(cfg, image_pages, ripas_steps):
    """The RIM from the measured steps of a build, worked out from the config alone."""
    image = cfg.image_bytes().ljust(image_pages * GRANULE, b"\0")
    flags = 1 if cfg.measure else 0
    steps = [("data", cfg.ram_base + i * GRANULE, image[i * GRANULE:(i + 1) * GRANULE], flags)
             for i in range(image_pages)]
    steps += [("ripas", b, t) for b, t in ripas_steps]
    steps.append(("rec", {"flags": 1, "mpidr": 0, "pc": cfg.ram_base, "gprs": cfg.boot_gprs()}))
    return predict_rim(cfg.params(), steps)


def pages(base, top, size=GRANULE):
    return [(a, a + size) for a in range(base, top, size)]


# --- the configuration --------------------------------------------------------------------------------
def test_the_default_layout_puts_console_and_shared_page_in_the_unprotected_half():
    cfg = RealmConfig()
    assert cfg.unprotected_base == 1 << 39
    assert (cfg.console_ipa, cfg.shared_ipa, cfg.scratch_ipa) == ((1 << 39) + 0x1000, (1 << 39) + 2 * MB - GRANULE,
                                                                   GRANULE)
    assert cfg.boot_gprs() == [0, 2 * MB, cfg.console_ipa, cfg.shared_ipa, GRANULE, 0, 0, 0]
    no_io = RealmConfig(console=False, shared=False, arg=9)
    assert no_io.boot_gprs()[2:6] == [0, 0, GRANULE, 9]


def test_params_are_the_realm_params_the_host_passes():
    prm = RealmConfig(s2sz=34, rtt_level_start=2, hash_algo="sha512", rpv=b"pv", vmid=5).params()
    assert prm["hash_algo"] == HashAlgo.SHA_512 and prm["rpv"] == b"pv".ljust(64, b"\0")
    assert (prm["s2sz"], prm["rtt_level_start"], prm["rtt_num_start"], prm["vmid"]) == (34, 2, 16, 5)
    assert (prm["num_bps"], prm["num_wps"], prm["flags"]) == (1, 1, 0)


def test_the_default_image_is_the_program_s_boot_header_in_one_page():
    assert RealmConfig(program="memtouch").image_bytes() == header("memtouch").ljust(GRANULE, b"\0")
    assert len(RealmConfig(image=b"x" * (GRANULE + 1)).image_bytes()) == 2 * GRANULE


def test_build_step_and_run_report_render_as_text():
    assert str(BuildStep("RTT_CREATE", (0x10, 3), "a table")) == "RTT_CREATE(0x10, 0x3)  # a table"
    rep = RunReport(exits=[(0, "IRQ", "host timer")], console=["hi"], stopped="done")
    assert rep.text() == "REC 0 exit IRQ: host timer\nconsole: hi\nstopped: done"


# --- the build --------------------------------------------------------------------------------------
def test_a_build_makes_the_calls_of_the_realm_creation_flow_in_order_and_all_succeed(p, host):
    realm = host.build_realm(RealmConfig(program="hello"))
    assert all(c.ok for c in host.calls), host.calls_text()
    firsts = []
    for c in host.calls:
        if c.name not in firsts:
            firsts.append(c.name)
    assert firsts == ["RMI_GRANULE_DELEGATE", "RMI_REALM_CREATE", "RMI_RTT_CREATE", "RMI_DATA_CREATE",
                      "RMI_RTT_INIT_RIPAS", "RMI_REC_AUX_COUNT", "RMI_REC_CREATE", "RMI_REALM_ACTIVATE"]
    assert host.calls[-1].name == "RMI_REALM_ACTIVATE"
    assert [c.args[3] for c in host.calls if c.name == "RMI_RTT_CREATE"] == [1, 2, 3]
    assert p.rmm.realms[realm.rd].state == RealmState.ACTIVE
    assert host.realms == [realm]


@pytest.mark.parametrize("recs", [1, 3])
def test_after_a_build_each_granule_is_in_the_state_its_role_needs(p, host, recs):
    realm = host.build_realm(RealmConfig(program="hello", recs=recs, image=b"i" * (2 * GRANULE)))
    g = p.rmm.granules
    aux_n = len(realm.aux[0])
    assert aux_n == host.calls[[c.name for c in host.calls].index("RMI_REC_AUX_COUNT")].results[1] > 0
    assert state_counts(p) == {GranuleState.DELEGATED: 0, GranuleState.RD: 1, GranuleState.RTT: 4,
                               GranuleState.DATA: 2, GranuleState.REC: recs, GranuleState.REC_AUX: recs * aux_n}
    assert g.state(realm.rd) == GranuleState.RD and g.state(realm.rtt_base) == GranuleState.RTT
    assert all(g.state(pa) == GranuleState.RTT for pa in realm.rtts.values())
    assert sorted(realm.data) == [0, GRANULE] and all(g.state(pa) == GranuleState.DATA for pa in realm.data.values())
    assert all(g.state(pa) == GranuleState.REC for pa in realm.recs)
    assert all(g.state(pa) == GranuleState.REC_AUX for aux in realm.aux for pa in aux)
    assert [p.rmm.recs[pa].runnable for pa in realm.recs] == [True] + [False] * (recs - 1)
    assert all(p.gpi(pa) == GPI.NONSECURE for pa in realm.runs)


@pytest.mark.parametrize("kw, image_pages, ripas", [
    ({}, 1, pages(GRANULE, 2 * MB)),
    ({"image": b"k" * (2 * GRANULE), "ram_size": 6 * MB}, 2,
     pages(2 * GRANULE, 2 * MB) + pages(2 * MB, 6 * MB, 2 * MB)),
    ({"measure": False}, 1, pages(GRANULE, 2 * MB)),
    ({"hash_algo": "sha512", "arg": 77}, 1, pages(GRANULE, 2 * MB)),
    ({"recs": 2}, 1, pages(GRANULE, 2 * MB)),  # a secondary that is not runnable is not measured
    ({"populate": True, "ram_size": 64 * GRANULE}, 64, []),
    ({"ram_size": 3 * MB}, 1, pages(GRANULE, 3 * MB)),
], ids=["default", "two-pages-6mib", "unmeasured-content", "sha512", "two-recs", "populate", "3mib"])
def test_the_rim_is_what_the_config_predicts(p, host, kw, image_pages, ripas):
    cfg = RealmConfig(program="hello", **kw)
    realm = host.build_realm(cfg)
    assert realm.rim == expected_rim(cfg, image_pages, ripas)
    assert len(realm.rim) == (64 if cfg.hash_algo == "sha512" else 32)


def test_the_rim_depends_on_the_image_and_the_boot_registers(p, host):
    a = host.build_realm(RealmConfig(program="hello", vmid=1)).rim
    b = host.build_realm(RealmConfig(program="hello", vmid=2, arg=1)).rim
    c = host.build_realm(RealmConfig(program="prober", vmid=3)).rim
    d = host.build_realm(RealmConfig(program="hello", vmid=4, rpv=b"not measured")).rim
    assert len({a, b, c}) == 3 and d == a


def test_populate_backs_every_page_of_ram_up_front(p, host):
    realm = host.build_realm(RealmConfig(program="memtouch", ram_size=64 * GRANULE, populate=True))
    assert sorted(realm.data) == [i * GRANULE for i in range(64)]
    assert "RMI_RTT_INIT_RIPAS" not in [c.name for c in host.calls]
    rr = p.rmm.realms[realm.rd]
    for ipa in (0, 63 * GRANULE):
        w = p.rmm.walk(rr, ipa, 3)
        assert s2tt.name(w.entry, w.level) == "ASSIGNED/RAM"
    report = realm.run()
    assert [r for _, r, _ in report.exits] == ["PSCI"] and realm.guest().notes == {"checksum_ok": True}


def test_an_image_bigger_than_ram_is_refused(host):
    with pytest.raises(ValueError, match="does not fit"):
        host.build_realm(RealmConfig(image=b"x" * (3 * GRANULE), ram_size=2 * GRANULE))


def test_progress_is_reported_while_data_is_created(host):
    seen = []
    host.build_realm(RealmConfig(program="hello", image=b"p" * GRANULE), progress=lambda i, n: seen.append((i, n)))
    assert seen == [(0, 1), (1, 1)]  # at the start of each batch of pages, and once at the end


def test_guest_is_none_until_the_rec_has_run(host):
    realm = host.build_realm(RealmConfig(program="hello"))
    assert realm.guest(0) is None
    realm.run()
    assert realm.guest(0).console == ["hello from realm CPU 0: IPA width 40 bits"]


def test_run_gives_up_after_max_exits(host):
    realm = host.build_realm(RealmConfig(program="hello"))
    report = realm.run(max_exits=2)
    assert report.stopped == "paused after 2 exits: the realm is still running" and len(report.exits) == 2
    assert report.paused


def test_run_of_a_realm_that_is_off_reports_the_refused_entry(host):
    realm = host.build_realm(RealmConfig(program="hello"))
    realm.run()
    report = realm.run()
    assert report.exits == [] and report.stopped.startswith("REC_ENTER failed: RMI_REC_ENTER")
    assert "system_off" in report.stopped


# --- IPA widths and start levels ------------------------------------------------------------------------
def _lowest_level(s2sz):
    return min(sl for sl in range(4) if s2tt.level_consistent(s2sz, sl))


@pytest.mark.parametrize("s2sz, sl", [(s, _lowest_level(s)) for s in range(32, 49)]
                         + [(32, 2), (34, 2), (41, 1), (43, 1)])
def test_every_ipa_width_from_32_to_48_bits_builds_runs_and_tears_down(p, host, s2sz, sl):
    assert s2tt.level_consistent(s2sz, sl)
    before = state_counts(p)
    realm = host.build_realm(RealmConfig(program="hello", s2sz=s2sz, rtt_level_start=sl))
    rr = p.rmm.realms[realm.rd]
    num = s2tt.rtt_num_start(s2sz, sl)
    assert (rr.s2sz, rr.rtt_level_start, rr.rtt_num_start) == (s2sz, sl, num)
    roots = [realm.rtt_base + i * GRANULE for i in range(num)]
    assert all(p.rmm.granules.state(pa) == GranuleState.RTT for pa in roots)
    assert sorted(lvl for _, lvl in realm.rtts) == list(range(sl + 1, 4))
    assert realm.run().console == [f"hello from realm CPU 0: IPA width {s2sz} bits"]
    realm.destroy()
    assert state_counts(p) == before
    assert all(p.gpi(pa) == GPI.NONSECURE for pa in roots + [realm.rd])


# --- teardown ---------------------------------------------------------------------------------------------
def test_destroy_returns_every_granule_to_the_host(p, host):
    p.rmm.token_provider = lambda rmm, realm, ch: b"x" * 1500
    before = state_counts(p)
    realm = host.build_realm(RealmConfig(program="linux-boot", recs=2))
    realm.run()
    assert realm.unprotected and len(realm.data) > 1  # pages backed and mapped while it ran
    used = ([realm.rd] + [realm.rtt_base] + [pa for pa in realm.rtts.values() if pa] + list(realm.data.values())
            + realm.recs + [pa for aux in realm.aux for pa in aux])
    start = len(host.calls)
    realm.destroy()
    assert all(c.ok for c in host.calls[start:])
    assert all(p.rmm.granules.state(pa) == GranuleState.UNDELEGATED for pa in used)
    assert all(p.gpi(pa) == GPI.NONSECURE for pa in used)
    assert p.rmm.realms == {} and p.rmm.recs == {}
    assert state_counts(p) == before
    again = host.build_realm(RealmConfig(program="hello"))  # its VMID is free again
    assert again.run().console == ["hello from realm CPU 0: IPA width 40 bits"]


def test_two_realms_side_by_side_have_their_own_vmids_mecids_and_memory(p, host):
    a = host.build_realm(RealmConfig(program="hello", vmid=1))
    b = host.build_realm(RealmConfig(program="hello", vmid=2, s2sz=36, rtt_level_start=1))
    ra, rb = p.rmm.realms[a.rd], p.rmm.realms[b.rd]
    assert (ra.vmid, rb.vmid) == (1, 2) and ra.mecid != rb.mecid
    assert not set(a.data.values()) & set(b.data.values())
    assert a.run().console == ["hello from realm CPU 0: IPA width 40 bits"]
    a.destroy()
    assert rb.state == RealmState.ACTIVE
    assert b.run().console == ["hello from realm CPU 0: IPA width 36 bits"]
    b.destroy()
    assert p.rmm.realms == {}
