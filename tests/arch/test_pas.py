import itertools

import pytest

from ccalab import GPI, PAS, SecurityState
from ccalab.arch.pas import as_gpi, as_pas, gpi_check, gpi_is_valid


def test_pas_values_are_the_nse_ns_encoding():
    assert [(p.nse, p.ns) for p in (PAS.SECURE, PAS.NONSECURE, PAS.ROOT, PAS.REALM)] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_gpi_encodings_match_the_architecture():
    assert (GPI.NO_ACCESS, GPI.SECURE, GPI.NONSECURE, GPI.ROOT, GPI.REALM, GPI.ANY) == (0, 8, 9, 10, 11, 15)
    assert all(GPI.for_pas(p) & 3 == p for p in PAS)


@pytest.mark.parametrize("gpi,pas", list(itertools.product(list(GPI), list(PAS))))
def test_gpi_check_truth_table(gpi, pas):
    expected = {GPI.NO_ACCESS: False, GPI.ANY: True}.get(gpi, gpi == GPI.for_pas(pas))
    assert gpi_check(gpi, pas) is expected


def test_reserved_gpi_values_are_not_valid():
    assert sorted(v for v in range(16) if gpi_is_valid(v)) == [0, 8, 9, 10, 11, 15]


def test_security_state_limits_which_pas_it_can_name():
    assert SecurityState.NONSECURE.may_access(PAS.NONSECURE)
    assert not any(SecurityState.NONSECURE.may_access(p) for p in (PAS.REALM, PAS.SECURE, PAS.ROOT))
    assert SecurityState.REALM.may_access(PAS.NONSECURE) and not SecurityState.REALM.may_access(PAS.SECURE)
    assert all(SecurityState.ROOT.may_access(p) for p in PAS)


def test_conversions_accept_names_and_reject_nonsense_clearly():
    assert as_pas("ns") is PAS.NONSECURE and as_pas("Realm") is PAS.REALM and as_pas(2) is PAS.ROOT
    assert as_gpi("all") is GPI.ANY and as_gpi(0b1011) is GPI.REALM
    with pytest.raises(ValueError, match="PAS"):
        as_pas(7)
    with pytest.raises(ValueError, match="not a defined GPI"):
        as_gpi(0b0011)
    with pytest.raises(ValueError, match="unknown"):
        as_pas("hyperspace")
