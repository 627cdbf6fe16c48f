from ccalab import PAS
from ccalab.scenarios import two_stage_guest


def test_two_stage_guest_translates_every_page():
    g = two_stage_guest(pages=4)
    for i in range(4):
        r = g.pe.translate(g.va + i * 4096 + 1)
        assert r.ok and r.pa == g.data + i * 4096 + 1 and r.pas == PAS.NONSECURE


def test_realm_guest_uses_delegated_memory():
    g = two_stage_guest(realm=True, pages=2)
    r = g.pe.translate(g.va)
    assert r.ok and r.pas == PAS.REALM and g.platform.gpi(g.s2.root).name == "REALM"
