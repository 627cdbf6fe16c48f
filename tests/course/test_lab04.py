"""Lab 04 (build, measure and attack a realm): the answer key passes, the starter fails, and mistakes
are explained."""

import hashlib
import sys

import pytest
from _labkit import SEEDS, load_solution, run_starter

from ccalab import PAS, GranuleProtectionFault
from ccalab.course import lab04
from ccalab.course.lab04 import FIXES, REASONS, LabResult, Target, check, hint, make_exercise
from ccalab.firmware.rmm import measurement
from ccalab.firmware.rmm.granule import GranuleState
from ccalab.firmware.rmm.spec import label_of

SOLUTION = load_solution("04-realm-builder.py")
solve = SOLUTION.solve


def _starter():
    """The lab's shipped answers dict (starter code)."""
    return run_starter("04-realm-builder.ipynb", "answers")


def _text(result):
    return " ".join(result.messages)


def _with(**changes):
    """The reference answers with some functions replaced."""
    return dict(solve(0), **changes)


def _seed_where(pred, tries=60):
    for s in range(tries):
        if pred(lab04._rim_exercise(s)):
            return s
    pytest.fail("no seed has that property")  # pragma: no cover


# --- the exercises ---------------------------------------------------------------------------------
def test_exercise_is_reproducible_from_its_seed():
    a, b = make_exercise(5), make_exercise(5)
    assert a.rim == b.rim
    assert [r._kind for r in a.runs] == [r._kind for r in b.runs]
    assert [c.results for c in a.runs[0].calls] == [c.results for c in b.runs[0].calls]
    ta, tb = a.target(), b.target()
    assert ta.secret_ipa == tb.secret_ipa and ta._secret == tb._secret and ta._secret_pa == tb._secret_pa


def test_exercises_differ_between_seeds():
    rims = {lab04._trail(lab04._rim_exercise(s))[-1][1] for s in range(8)}
    kinds = {tuple(lab04._run_kinds(s)) for s in range(8)}
    secrets = {Target(s)._secret for s in range(4)}
    assert len(rims) == 8 and len(kinds) >= 6 and len(secrets) == 4


@pytest.mark.parametrize("seed", SEEDS)
def test_the_reference_trail_ends_at_the_rmms_rim(seed):
    rx = lab04._rim_exercise(seed)
    _, _, realm = rx.build()
    trail = lab04._trail(rx)
    assert trail[-1][1] == realm.rim
    steps = [("data", ipa, page, 1) for ipa, page in rx.pages]
    steps += [("ripas", b, t) for b, t in lab04._ripas_entries(rx)]
    steps += [("rec", r) for r in rx.recs if r["flags"] & 1]
    assert measurement.predict_rim(rx.params, steps) == realm.rim
    assert len(realm.rim) == (32 if rx.hash_algo == "sha256" else 64)


def test_seeds_cover_both_hashes_block_entries_and_a_second_rec():
    rxs = [lab04._rim_exercise(s) for s in range(24)]
    assert {rx.hash_algo for rx in rxs} == {"sha256", "sha512"}
    assert any(rx.ram_size > lab04.BLOCK for rx in rxs) and any(len(rx.recs) == 2 for rx in rxs)
    assert any(t - b == lab04.BLOCK for rx in rxs for b, t in lab04._ripas_entries(rx))


def test_params_page_keeps_only_the_fields_asked_for():
    rx = lab04._rim_exercise(0)
    full, kept = rx.params_page(), rx.params_page(keep=["s2sz"])
    assert len(full) == len(kept) == 4096 and kept[8] == 40 and not any(kept[:8] + kept[9:])
    assert full[0x800:0x802] == rx.params["vmid"].to_bytes(2, "little")


def test_the_correct_build_succeeds_everywhere():
    p, host = lab04._machine()
    calls = [host.rmi(s.command, *s.args) for _, s in lab04._plan(host, "none")]
    assert all(c.ok for c in calls) and calls[-1].name == "RMI_REC_ENTER"


FIRST_FAILURE = {
    "rd-undelegated": ("RMI_REALM_CREATE", "rd_state"), "root-undelegated": ("RMI_REALM_CREATE", "rtt_state"),
    "rtt-num-start": ("RMI_REALM_CREATE", "params_valid"), "params-not-host": ("RMI_REALM_CREATE", "params_state"),
    "data-before-rtt": ("RMI_DATA_CREATE", "rtt_walk"), "rtt-level-skipped": ("RMI_RTT_CREATE", "rtt_walk"),
    "rtt-twice": ("RMI_RTT_CREATE", "rtt_entry"), "data-undelegated": ("RMI_DATA_CREATE", "data_state"),
    "data-unprotected": ("RMI_DATA_CREATE", "ipa_bound"), "rec-after-activate": ("RMI_REC_CREATE", "realm_state"),
    "ripas-after-activate": ("RMI_RTT_INIT_RIPAS", "realm_state"), "no-activate": ("RMI_REC_ENTER", "realm_new"),
    "activate-twice": ("RMI_REALM_ACTIVATE", "realm_state"), "aux-count": ("RMI_REC_CREATE", "num_aux_count"),
    "rec-mpidr": ("RMI_REC_CREATE", "mpidr_index"), "rec-undelegated": ("RMI_REC_CREATE", "rec_state"),
}


@pytest.mark.parametrize("kind", lab04.BUG_KINDS)
def test_each_bug_fails_first_where_and_how_the_spec_says(kind):
    run = lab04._faulty_build(0, 1, kind)
    i = lab04._culprit(run)
    call = run.calls[i]
    assert (call.name, label_of(call.failure)) == FIRST_FAILURE[kind]
    assert all(c.ok for c in run.calls[:i])
    assert SOLUTION.diagnose(run) == (i, lab04._BUGS[kind]) and lab04._BUGS[kind] in FIXES


def test_every_seed_gets_distinct_bugs_with_at_least_three_fixes():
    for s in range(20):
        kinds = lab04._run_kinds(s)
        assert len(set(kinds)) == lab04.RUNS_PER_SEED and len({lab04._BUGS[k] for k in kinds}) >= 3


def test_a_faulty_build_shows_every_call_with_its_status_and_label():
    run = lab04._faulty_build(0, 1, "rtt-num-start")
    text, page = run.text(), run._repr_html_()
    assert "REALM_CREATE" in text and "RMI_ERROR_INPUT" in text and "params_valid: rtt_num_start" in text
    assert "GRANULE_DELEGATE x16" in text  # the auxiliary granules are folded into one row
    assert "<table>" in page and "params_valid" in page
    assert run.labels[lab04._culprit(run)] == "params_valid"


def test_the_target_keeps_a_secret_the_host_cannot_read():
    t = Target(0)
    assert t.platform.rmm.granules.state(t._secret_pa) == GranuleState.DATA
    assert isinstance(t.host.peek(t._secret_pa, 16), GranuleProtectionFault)
    mecid = t.platform.rmm.realms[t.rd].mecid
    assert t.platform.phys_read(t._secret_pa, len(t._secret), PAS.REALM, mecid=mecid) == t._secret
    assert "secret stored" in str(t) and t.console


def test_exercise_text_names_the_three_exercises():
    ex = make_exercise(2)
    text = str(ex)
    assert "ex.rim" in text and "ex.runs" in text and "ex.target()" in text
    assert "RmiRealmParams" in str(ex.rim) and "REC 0" in str(ex.rim)


# --- the answer key and the starter ----------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_reference_solution_passes_for_every_seed(seed):
    result = check(solve(seed), seed=seed)
    assert result.passed, str(result)
    assert result.messages == [] and all(ok for ok, _ in result.probes) and len(result.probes) == 9
    assert result.exercises == {1: True, 2: True, 3: True}
    assert "PASSED" in str(result) and "RIPAS DESTROYED" in str(result)


def test_the_final_rim_alone_is_accepted_too():
    answers = _with(rim=lambda rx: SOLUTION.predict_rim(rx)[-1].hex())
    assert check(answers, seed=1).passed


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_starter_code_fails_the_checker_without_an_exception(seed):
    result = check(_starter(), seed=seed)
    assert isinstance(result, LabResult) and not result.passed
    assert "raised" not in _text(result)
    assert result.exercises == {1: False, 2: False, 3: False}
    assert "whole RmiRealmParams page" in _text(result)
    assert "fails only because an earlier step failed first" in _text(result)
    assert "'page-tables' is not why" in _text(result)


def test_check_records_progress():
    from ccalab.course import progress

    check(solve(0), seed=4)
    (a,) = progress.store().attempts("lab04-realm-builder")
    assert a.seed == 4 and a.passed


def test_check_leaves_no_profiler_behind():
    before = sys.getprofile()
    check(_starter(), seed=0)
    assert sys.getprofile() is before


# --- exercise 1: mistakes --------------------------------------------------------------------------
def _final(fn):
    return lambda rx: fn(rx)[-1]


def test_ccalabs_own_measurement_code_is_refused():
    def predict(rx):
        steps = [("data", ipa, page, 1) for ipa, page in rx.pages]
        steps += [("ripas", b, t) for b, t in lab04._ripas_entries(rx)] + [("rec", rx.recs[0])]
        return measurement.predict_rim(rx.params, steps)
    result = check(_with(rim=predict), seed=0)
    assert not result.exercises[1] and "ccalab's own measurement" in _text(result) and "predict_rim" in _text(result)


def test_building_the_realm_to_read_its_rim_is_refused():
    result = check(_with(rim=lambda rx: rx.build()[2].rim), seed=0)
    assert not result.exercises[1] and "ccalab's own measurement or host code" in _text(result)


def _answer(seed, final=False, **mistake):
    """A prediction with ``mistake`` (see lab04._trail), computed before the check so that no
    ccalab measurement code runs inside the learner's function."""
    rims = [r for _, r in lab04._trail(lab04._rim_exercise(seed), **mistake)]
    return (lambda rx: rims[-1]) if final else (lambda rx: list(rims))


def test_measuring_the_second_rec_is_explained():
    seed = _seed_where(lambda rx: len(rx.recs) == 2)
    result = check(_with(rim=_answer(seed, final=True, recs="all")), seed=seed)
    assert not result.exercises[1] and "not runnable" in _text(result)
    result = check(_with(rim=_answer(seed, recs="all")), seed=seed)  # as a list: one RIM too many
    assert "not runnable" in _text(result) and "1 more" in _text(result)


def test_page_granular_ripas_beyond_2mb_is_explained():
    seed = _seed_where(lambda rx: rx.ram_size > lab04.BLOCK)
    result = check(_with(rim=_answer(seed, final=True, ripas="pages")), seed=seed)
    assert "2 MB" in _text(result) and "level-2" in _text(result)
    result = check(_with(rim=_answer(seed, ripas="pages")), seed=seed)
    assert "2 MB level-2 entry" in _text(result)


def test_the_wrong_hash_algorithm_is_explained():
    seed = _seed_where(lambda rx: rx.hash_algo == "sha512")
    result = check(_with(rim=_answer(seed, final=True, algo=0)), seed=seed)
    assert "SHA-512" in _text(result) and "32 bytes" in _text(result)
    result = check(_with(rim=_answer(seed, algo=0)), seed=seed)
    assert "SHA-256" in _text(result) and "SHA-512" in _text(result)


def test_a_missing_content_hash_is_explained_at_its_step():
    result = check(_with(rim=_answer(0, content=False)), seed=0)
    assert "content field is empty" in _text(result) and "REALM_CREATE" in _text(result)
    result = check(_with(rim=_answer(0, final=True, content=False)), seed=0)
    assert "RMI_MEASURE_CONTENT" in _text(result)


def test_the_whole_params_page_is_explained_in_either_form():
    result = check(_with(rim=_answer(0, final=True, full_params=True)), seed=0)
    assert "only the measured fields" in _text(result)


def test_an_unpadded_rim_slot_is_explained():
    rx = lab04._rim_exercise(0)
    rims = SOLUTION.predict_rim(rx)
    ipa, page = rx.pages[0]
    good = measurement.data_descriptor(rims[0], ipa, 1, hashlib.new(rx.hash_algo, page).digest())
    bad = (good[:0x10] + rims[0] + good[0x50:]).ljust(256, b"\0")[:256]
    answer = [rims[0], hashlib.new(rx.hash_algo, bad).digest()]
    result = check(_with(rim=lambda rx: answer), seed=0)
    assert "64-byte slot" in _text(result)


def test_a_short_list_says_what_comes_next():
    result = check(_with(rim=lambda rx: SOLUTION.predict_rim(rx)[:2]), seed=0)
    assert "your list stops" in _text(result) and "more command" in _text(result)


def test_a_wrong_rec_content_hash_is_explained():
    rx = lab04._rim_exercise(0)
    rims = SOLUTION.predict_rim(rx)
    h = lambda d: hashlib.new(rx.hash_algo, d).digest()  # noqa: E731
    rims[-1] = h(measurement.rec_descriptor(rims[-2], h(rx.rec_params_page(0))))
    result = check(_with(rim=lambda rx: rims), seed=0)
    assert "only flags, pc and gprs" in _text(result)


@pytest.mark.parametrize("bad, words", [
    (lambda rx: None, "must return the RIM as bytes"),
    (lambda rx: [], "empty list"),
    (lambda rx: [1, 2], "must be bytes"),
    (lambda rx: b"\0" * 32, "matches none of the usual mistakes"),
    (lambda rx: 1 / 0, "ZeroDivisionError"),
    (lambda: b"", "one parameter, rx"),
    ("predict_rim", "not a str"),
])
def test_exercise_1_shapes_and_exceptions_are_explained(bad, words):
    result = check(_with(rim=bad), seed=0)
    assert not result.exercises[1] and words in _text(result), _text(result)


# --- exercise 2: mistakes --------------------------------------------------------------------------
def test_a_succeeding_step_is_not_the_faulty_one():
    result = check(_with(diagnose=lambda run: (0, "delegate")), seed=0)
    assert not result.exercises[2] and "succeeded: RMI_SUCCESS" in _text(result)


def test_the_right_step_with_the_wrong_fix_gets_the_label_explained():
    def diagnose(run):
        i, fix = SOLUTION.diagnose(run)
        return i, "aux-count" if fix != "aux-count" else "delegate"
    result = check(_with(diagnose=diagnose), seed=0)
    assert "the step is right, the fix is not" in _text(result) and "failure label" in _text(result)


def test_activating_twice_is_pointed_out():
    seed = next(s for s in range(80) if "activate-twice" in lab04._run_kinds(s))

    def diagnose(run):
        i, fix = SOLUTION.diagnose(run)
        return i, "before-activate" if fix == "drop" else fix
    result = check(_with(diagnose=diagnose), seed=seed)
    assert "ACTIVE already" in _text(result)


@pytest.mark.parametrize("bad, words", [
    (lambda run: 3, "must return (step index, fix)"),
    (lambda run: ("3", "delegate"), "must be an int"),
    (lambda run: (999, "delegate"), "must be an int from 0"),
    (lambda run: (1, "undelegate"), "must be one of"),
    (lambda run: run.nothing, "AttributeError"),
])
def test_exercise_2_shapes_and_exceptions_are_explained(bad, words):
    result = check(_with(diagnose=bad), seed=0)
    assert not result.exercises[2] and words in _text(result), _text(result)


# --- exercise 3: mistakes --------------------------------------------------------------------------
def _attack_with(approach, outcome_fn, reason=None):
    def attack(target, a):
        if a != approach:
            return SOLUTION.attack(target, a)
        got, why = SOLUTION.attack(target, a) if outcome_fn is None else (outcome_fn(target), None)
        return got, why if reason is None else reason
    return attack


@pytest.mark.parametrize("approach, reason, words", [
    ("peek", "mec", "encryption never comes into it"),
    ("peek", "rmm", "no RMI command is involved"),
    ("dram", "gpc", "never goes through the GPC"),
    ("remap", "gpc", "no access was made"),
    ("destroy", "rmm", "a host may take its memory back"),
    ("destroy", "mec", "no secret left to decrypt"),
    ("dram", "stage-2", "never the host's"),
    ("peek", "page-tables", "can map any PA"),
])
def test_a_wrong_reason_is_explained(approach, reason, words):
    result = check(_with(attack=_attack_with(approach, None, reason)), seed=0)
    assert not result.exercises[3] and words in _text(result), _text(result)


def test_an_unknown_reason_lists_the_reasons():
    result = check(_with(attack=_attack_with("peek", None, "magic")), seed=0)
    assert "Now say why" in _text(result) and all(repr(r) in _text(result) for r in REASONS)


def test_peeking_at_the_ipa_instead_of_the_pa_is_explained():
    result = check(_with(attack=_attack_with("peek", lambda t: t.host.peek(t.secret_ipa, 64), "gpc")), seed=0)
    assert "an IPA is not a PA" in _text(result) and "ExternalAbort" in _text(result)


def test_reading_in_the_realm_pas_is_not_the_hosts_to_do():
    def realm_read(t):
        mecid = t.platform.rmm.realms[t.rd].mecid
        return t.platform.phys_read(t._secret_pa, 64, PAS.REALM, mecid=mecid)
    result = check(_with(attack=_attack_with("dram", realm_read, "mec")), seed=0)
    assert "Only the realm and the RMM" in _text(result)
    result = check(_with(attack=_attack_with("peek", realm_read, "gpc")), seed=0)
    assert "Only the realm and the RMM" in _text(result)


def test_dram_bytes_from_elsewhere_are_refused():
    result = check(_with(attack=_attack_with("dram", lambda t: t.platform.dram_read(t._secret_pa + 0x1000, 64),
                                             "mec")), seed=0)
    assert "not what DRAM holds in the secret's granule" in _text(result)


def test_a_remap_that_succeeds_is_explained():
    def remap(t):
        alias = t.secret_ipa | 1 << 39
        for lvl in (1, 2, 3):
            shift = 39 - 9 * (lvl - 1)
            t.host.rmi("RTT_CREATE", t.rd, t.host.delegate()[0], alias >> shift << shift, lvl)
        return t.host.rmi("RTT_MAP_UNPROTECTED", t.rd, alias, 3, t.host.alloc() | (0b110 << 2) | (0b11 << 6))
    result = check(_with(attack=_attack_with("remap", remap, "rmm")), seed=0)
    assert "succeeded, but it did not give you the secret" in _text(result)


def test_a_remap_of_something_else_is_refused():
    result = check(_with(attack=_attack_with("remap", lambda t: t.host.rmi("RTT_MAP_UNPROTECTED", t.rd, 0x5000, 3, 0),
                                             "rmm")), seed=0)
    assert "none of your calls names the secret" in _text(result)


def test_the_unprotected_alias_refused_for_lack_of_tables_counts_as_a_refusal():
    def remap(t):
        return t.host.rmi("RTT_MAP_UNPROTECTED", t.rd, t.secret_ipa | 1 << 39, 3, t.host.alloc() | (0b11 << 6))
    assert check(_with(attack=_attack_with("remap", remap, "rmm")), seed=0).exercises[3]


def test_destroy_without_undelegating_is_explained():
    def destroy(t):
        back = t.host.rmi("DATA_DESTROY", t.rd, t.secret_ipa).results[1]
        return t.host.peek(back, 64)
    result = check(_with(attack=_attack_with("destroy", destroy, "scrub")), seed=0)
    assert "GRANULE_UNDELEGATE it" in _text(result)


def test_destroy_without_data_destroy_is_explained():
    result = check(_with(attack=_attack_with("destroy", lambda t: bytes(64), "scrub")), seed=0)
    assert "still the realm's DATA" in _text(result)


def test_a_missing_secret_key_is_explained():
    def attack(target, approach):
        return target.realm.data[0x123000], "gpc"
    result = check(_with(attack=attack), seed=0)
    assert "KeyError" in _text(result) and "target.realm.data[target.secret_ipa]" in _text(result)


@pytest.mark.parametrize("bad, words", [
    (lambda t, a: None, "no answer yet"),
    (lambda t, a: "gpc", "must return (what you got, why)"),
    (lambda t, a: (b"x" * 64, "gpc") if a == "peek" else (None, None), "did not read the realm's granule"),
    (lambda t: None, "two parameters, target and approach"),
])
def test_exercise_3_shapes_and_exceptions_are_explained(bad, words):
    result = check(_with(attack=bad), seed=0)
    assert not result.exercises[3] and words in _text(result), _text(result)


# --- the answers dict and the display ----------------------------------------------------------------
@pytest.mark.parametrize("bad, words", [
    (None, "is None"),
    ([], "got a list"),
    (SOLUTION.predict_rim, "got a function"),
    ({}, "no answer yet"),
    ({"rims": None}, "no exercise reads"),
])
def test_wrong_answers_objects_give_a_message_not_a_traceback(bad, words):
    result = check(bad, seed=0)
    assert isinstance(result, LabResult) and not result.passed and words in _text(result)


def test_one_exercise_right_is_reported_as_such():
    result = check({"rim": SOLUTION.predict_rim}, seed=0)
    assert result.exercises == {1: True, 2: False, 3: False} and not result.passed


def test_bad_seed_gives_a_message():
    result = check(solve(0), seed="zero")
    assert not result.passed and "seed" in _text(result)


def test_result_renders_green_when_passed_and_red_when_not():
    good, bad = check(solve(0), seed=0), check(None, seed=0)
    assert "PASSED" in str(good) and "#1a7f37" in good._repr_html_()
    assert "NOT YET" in str(bad) and "#cf222e" in bad._repr_html_()


def test_hints_are_numbered_and_never_raise():
    assert "list" in hint(1) and "Exercise 1" in hint(1)
    assert "Exercise 2" in hint(3) and "Exercise 3" in hint(4)
    assert hint(99).startswith("There are hints") and hint("x").startswith("There are hints")
    assert "**Hint:**" in hint(2)._repr_markdown_()


def test_check_never_raises_on_random_answers():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    value = st.one_of(st.none(), st.integers(-5, 70000), st.text(max_size=3), st.binary(max_size=70),
                      st.tuples(st.integers(-2, 40), st.text(max_size=8)), st.lists(st.binary(max_size=4), max_size=3))

    @hypothesis.settings(max_examples=20, deadline=None)
    @hypothesis.given(value, value, st.tuples(value, value))
    def run(rim, diag, att):
        answers = {"rim": lambda rx: rim, "diagnose": lambda run: diag, "attack": lambda t, a: att}
        result = check(answers, seed=0)
        assert isinstance(result, LabResult) and not result.passed and result.messages

    run()
