"""Lab 03 (MECID forensics): the answer key passes, the starter fails, and mistakes are explained."""


import pytest
from _labkit import SEEDS, load_solution, run_starter

from ccalab import PAS
from ccalab.course import lab03
from ccalab.course.lab03 import Case, LabResult, check, hint, make_exercise

SOLUTION = load_solution("03-mecid-forensics.py")
solve = SOLUTION.solve


def _starter():
    """The lab's shipped starter ``investigate``."""
    return run_starter("03-mecid-forensics.ipynb", "investigate")


def _text(result):
    return " ".join(result.messages)


def _truth(seed):
    return lab03._exercise_and_truth(seed)[1]


def _edited(edit):
    """The reference answer, changed by ``edit(case, owners)``."""
    def investigate(case):
        owners = SOLUTION.investigate(case)
        edit(case, owners)
        return owners
    return investigate


# --- the exercise -------------------------------------------------------------------------------
def test_exercise_is_reproducible_from_its_seed_but_keys_are_not():
    a, b = make_exercise(5), make_exercise(5)
    assert a.granules == b.granules and a.mecids == b.mecids
    assert a.probe(a.granules[0]) != b.probe(b.granules[0])  # EL3 draws new keys at every boot


def test_exercise_differs_between_seeds():
    cases = {(lab03._exercise_and_truth(s)[0].granules, lab03._exercise_and_truth(s)[0].mecids) for s in range(12)}
    assert len(cases) == 12


@pytest.mark.parametrize("seed", SEEDS)
def test_exercise_has_every_kind_of_granule(seed):
    ex, truth = lab03._exercise_and_truth(seed)
    owners = list(truth.values())
    assert None in owners and lab03.RMM_MECID in owners
    assert set(ex.mecids) == {m for m in owners if m is not None}
    shared = lab03._shared_mecid(seed)
    assert owners.count(shared) >= 2 and shared in ex.mecids
    assert list(ex.granules) == sorted(truth) and all(g % 4096 == 0 for g in ex.granules)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_each_granule_reads_as_data_only_under_its_owner(seed):
    case, truth = make_exercise(seed), _truth(seed)
    for pa, owner in truth.items():
        for m in case.mecids:
            bits = lab03._entropy(case.read_as(pa, m))
            assert (bits < 6.0) == (m == owner), (hex(pa), m, owner, bits)
        assert lab03._entropy(case.probe(pa)) > 7.8  # the probe sees ciphertext for everyone


def test_the_host_cannot_read_the_granules():
    from ccalab import GranuleProtectionFault

    case = make_exercise(0)
    with pytest.raises(GranuleProtectionFault):
        case.platform.phys_read(case.granules[0], 16, PAS.NONSECURE)


def test_a_destroyed_realms_mecid_can_be_reused_and_still_not_read_its_old_data():
    for seed in range(40):
        realms, _, _, reuse = lab03._plan(seed)
        if reuse:
            break
    else:  # pragma: no cover
        pytest.fail("no seed reuses the destroyed realm's MECID")
    case, truth = make_exercise(seed), _truth(seed)
    old = next(r.mecid for r in realms if r.destroyed)
    assert old in case.mecids
    for pa in (pa for pa, m in truth.items() if m is None):
        assert lab03._entropy(case.read_as(pa, old)) > 7.5


def test_case_text_and_html_list_granules_and_mecids():
    case = make_exercise(0)
    text, page = str(case), case._repr_html_()
    for g in case.granules:
        assert f"{g:#x}" in text and f"{g:#x}" in page
    assert "read_as" in text and "probe" in page


# --- the answer key and the starter --------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_reference_solution_passes_for_every_seed(seed):
    result = check(solve(seed), seed=seed)
    assert result.passed, str(result)
    assert result.messages == [] and all(ok for ok, _ in result.probes)
    assert "PASSED" in str(result) and "crypto-erased" in str(result) and "shared" in str(result)


def test_the_answer_dict_itself_is_accepted():
    case = make_exercise(3)
    assert check(SOLUTION.investigate(case), seed=3).passed


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_starter_code_fails_the_checker_without_an_exception(seed):
    result = check(_starter(), seed=seed)
    assert isinstance(result, LabResult) and not result.passed
    assert result.messages and "raised" not in _text(result)
    assert "does not fault" in _text(result)  # the starter trusts "no exception"


def test_check_records_progress():
    from ccalab.course import progress

    check(solve(0), seed=4)
    (a,) = progress.store().attempts("lab03-mecid-forensics")
    assert a.seed == 4 and a.passed


# --- common mistakes ------------------------------------------------------------------------------
def test_erased_granule_given_a_mecid_is_explained_as_crypto_erase():
    def edit(case, owners):
        for pa, m in owners.items():
            if m is None:
                owners[pa] = case.mecids[-1]
    result = check(_edited(edit), seed=1)
    assert not result.passed
    assert "crypto-erase" in _text(result) and "Answer None" in _text(result)


def test_readable_granule_called_unreadable_is_reported():
    def edit(case, owners):
        pa = next(pa for pa, m in owners.items() if m is not None)
        owners[pa] = None
    result = check(_edited(edit), seed=2)
    assert not result.passed and "not unreadable" in _text(result)


def test_wrong_mecid_is_reported_as_noise_under_that_mecid():
    truth = _truth(0)
    pa = next(pa for pa, m in truth.items() if m not in (None, lab03.RMM_MECID))
    other = next(m for m in lab03._exercise_and_truth(0)[0].mecids if m != truth[pa])
    result = check(_edited(lambda case, owners: owners.__setitem__(pa, other)), seed=0)
    assert not result.passed
    assert f"{pa:#x}" in _text(result) and f"under MECID {other}" in _text(result) and "noise" in _text(result)


def test_too_low_a_threshold_calls_text_unreadable():
    def investigate(case):
        return {pa: next((m for m in case.mecids if lab03._entropy(case.read_as(pa, m)) < 3.0), None)
                for pa in case.granules}
    result = check(investigate, seed=0)
    assert not result.passed and "not unreadable" in _text(result)


def test_everything_unreadable_points_at_read_as_not_the_probe():
    result = check(lambda case: {pa: None for pa in case.granules}, seed=0)
    assert not result.passed and "Every granule was called unreadable" in _text(result)
    assert "case.probe" in _text(result)


def test_argmin_without_a_threshold_misses_the_erased_granules():
    def investigate(case):
        return {pa: min(case.mecids, key=lambda m: lab03._entropy(case.read_as(pa, m))) for pa in case.granules}
    result = check(investigate, seed=0)
    assert not result.passed and "crypto-erase" in _text(result)
    assert sum(not ok for ok, _ in result.probes) == list(_truth(0).values()).count(None)


def test_a_mecid_not_in_use_is_reported():
    result = check(_edited(lambda case, owners: owners.__setitem__(case.granules[0], 999)), seed=0)
    assert not result.passed and "not one the RMM has assigned" in _text(result)


def test_string_keys_and_values_are_explained():
    def investigate(case):
        return {f"{pa:#x}": str(m) for pa, m in SOLUTION.investigate(case).items()}
    result = check(investigate, seed=0)
    assert not result.passed
    assert "not strings such as" in _text(result) and "a MECID is an int" in _text(result)


def test_missing_and_extra_granules_are_reported():
    def edit(case, owners):
        first = case.granules[0]
        owners[first + 0x10] = owners.pop(first)
    result = check(_edited(edit), seed=0)
    assert not result.passed
    assert "No answer for 1" in _text(result) and "first address" in _text(result)


def test_host_read_in_learner_code_is_explained_as_isolation():
    def investigate(case):
        return {pa: case.platform.phys_read(pa, 16, PAS.NONSECURE) for pa in case.granules}
    result = check(investigate, seed=0)
    assert not result.passed
    text = _text(result)
    assert "GranuleProtectionFault" in text and "isolation boundary" in text and "phys_read" in text


def test_mecid_on_a_non_realm_access_is_explained():
    def investigate(case):
        return {pa: case.platform.phys_read(pa, 16, PAS.NONSECURE, mecid=3) for pa in case.granules}
    result = check(investigate, seed=0)
    assert not result.passed and "one of the Realm PAS's many keys" in _text(result)


def test_exception_in_learner_code_is_explained():
    def investigate(case):
        return 1 / 0

    result = check(investigate, seed=0)
    assert not result.passed
    assert "ZeroDivisionError" in _text(result) and "return 1 / 0" in _text(result)


@pytest.mark.parametrize("bad, words", [
    (None, "is None"),
    ([], "got a list"),
    ("investigate", "got a str"),
    (lambda case: None, "returned None"),
    (lambda case: [1, 2], "not a list"),
    (lambda: {}, "exactly one parameter"),
])
def test_wrong_types_give_a_message_not_a_traceback(bad, words):
    result = check(bad, seed=0)
    assert isinstance(result, LabResult) and not result.passed
    assert words in _text(result)


def test_bad_seed_gives_a_message():
    result = check(solve(0), seed="zero")
    assert not result.passed and "seed" in _text(result)


def test_long_reports_are_capped():
    result = check(lambda case: {pa + 1: 0 for pa in case.granules} | {"x": "y"}, seed=0)
    assert not result.passed and len(result.messages) <= lab03._MAX_MESSAGES + 1


# --- display --------------------------------------------------------------------------------------
def test_result_renders_green_when_passed_and_red_when_not():
    good, bad = check(solve(0), seed=0), check(None, seed=0)
    assert "PASSED" in str(good) and "#1a7f37" in good._repr_html_()
    assert "NOT YET" in str(bad) and "#cf222e" in bad._repr_html_()
    assert bool(good) and not bool(bad)


def test_hints_are_numbered_and_never_raise():
    assert "does not fault" in hint(1)
    assert "entropy" in hint(2)
    assert "None" in hint(4)
    assert hint(99).startswith("There are hints")
    assert hint("x").startswith("There are hints")
    assert "**Hint:**" in hint(3)._repr_markdown_()


def test_case_is_a_case():
    assert isinstance(make_exercise(0), Case)


def test_check_never_raises_on_random_answers():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    value = st.one_of(st.none(), st.integers(-5, 70000), st.text(max_size=3), st.floats(allow_nan=True))
    key = st.one_of(st.integers(0, 1 << 40), st.text(max_size=6), st.none())

    @hypothesis.settings(max_examples=25, deadline=None)
    @hypothesis.given(st.dictionaries(key, value, max_size=6), st.integers(0, 4))
    def run(answer, seed):
        result = check(lambda case: answer, seed=seed)
        assert isinstance(result, LabResult) and not result.passed and result.messages

    run()
