"""Lab 05 (be the verifier): the answer key passes, the starter fails, and mistakes are explained."""

import hashlib

import pytest
from _labkit import SEEDS, load_solution, run_starter

from ccalab import Platform
from ccalab.attest import ReferenceValues, STEPS, appraise, decode, verify
from ccalab.attest.claims import HASH_ALGORITHMS
from ccalab.course import lab05
from ccalab.course.lab05 import BINDING_KINDS, CAUSES, DEPLOYMENTS, LabResult, check, hint, make_exercise
from ccalab.host import Host

SOLUTION = load_solution("05-be-the-verifier.py")
solve = SOLUTION.solve


def _starter():
    """The lab's shipped starter answers."""
    return run_starter("05-be-the-verifier.ipynb", "answers")


def _text(result):
    return " ".join(result.messages)


def _with(**changes):
    answers = solve(0)
    answers.update(changes)
    return answers


@pytest.fixture(scope="module")
def lab0():
    return make_exercise(0)


# --- the exercise -------------------------------------------------------------------------------
def test_exercise_is_reproducible_from_its_seed(lab0):
    again = make_exercise(0)
    assert [k for k, _ in again._binding] == [k for k, _ in lab0._binding]
    assert [c for c, _ in again._cases] == [c for c, _ in lab0._cases]
    assert again.owner.config == lab0.owner.config
    assert again.machine.attestation.cpak_public_pem() == lab0.machine.attestation.cpak_public_pem()


def test_exercises_differ_between_seeds():
    seen = set()
    for s in range(8):
        cfg = lab05._owner_config(s)
        kinds = tuple(k for k, _ in lab05._binding_tokens(s, *_realm_and_other(s)))
        seen.add((kinds, cfg.rpv, cfg.arg, cfg.hash_algo))
    assert len(seen) == 8


def _realm_and_other(seed):
    m, o = lab05._machine(seed, "a"), lab05._machine(seed, "b")
    return m, Host(m).build_realm(lab05._owner_config(seed)), o


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_binding_token_decodes_and_the_verifier_agrees_with_its_kind(seed):
    lab = make_exercise(seed)
    assert sorted(k for k, _ in lab._binding) == sorted(BINDING_KINDS)
    for kind, token in lab._binding:
        t = decode(token)
        v = verify(token)
        assert v["binding"].passed is BINDING_KINDS[kind][0], kind
        if kind == "rim-hash-differs":
            assert t.realm["cca-realm-hash-algo-id"] == "sha-512"
            assert t.realm["cca-realm-public-key-hash-algo-id"] == "sha-256"
        if kind == "stronger-binding":
            assert t.realm["cca-realm-public-key-hash-algo-id"] in ("sha-384", "sha-512")
        if kind == "raw-point-hashed":
            assert len(t.realm["cca-realm-public-key"]) == 107  # a COSE_Key; the platform hashed the 97-byte point
        if kind.startswith("genuine"):
            assert verify(token, lab.trust_anchor).ok


def test_the_three_traps_each_catch_a_different_slip(lab0):
    variants = [lab05._binding_variants(tok) for _k, tok in lab0._binding]
    truth = [BINDING_KINDS[k][0] for k, _ in lab0._binding]
    assert [v["right"] for v in variants] == truth
    for slip in ("rim-hash", "sha-256", "raw-point"):
        assert [v[slip] for v in variants] != truth, slip


@pytest.mark.parametrize("seed", SEEDS)
def test_each_case_fails_first_at_the_step_of_its_cause(seed):
    lab = make_exercise(seed)
    causes = [c for c, _ in lab._cases]
    assert len(causes) == 3 == len(set(causes))
    assert {"other-platform", "substituted-rak"} & set(causes)
    for cause, case in lab._cases:
        v = verify(case.token, case.trust_anchor, nonce=case.nonce)
        assert v.failed_step == CAUSES[cause][0], (cause, v.failed_step)
        assert CAUSES[cause][0] in STEPS
        assert verify(case.known_good, case.trust_anchor, nonce=case.known_good_nonce).ok


def test_the_edited_platform_token_was_in_debug_and_now_claims_to_be_secured():
    for seed in range(40):
        lab = make_exercise(seed)
        found = [case for cause, case in lab._cases if cause == "edited-platform"]
        if found:
            break
    else:  # pragma: no cover
        pytest.fail("no seed has an edited platform token")
    v = verify(found[0].token, found[0].trust_anchor, nonce=found[0].nonce)
    assert decode(found[0].token).platform["cca-platform-lifecycle"] == 0x3000
    assert v.failed_step == "platform_signature" and v.failed == (v["platform_signature"],)


@pytest.mark.parametrize("seed", [0, 5])
def test_deployments_are_judged_as_intended_by_the_owners_own_values(seed):
    owner = lab05.Owner(seed)
    rv = owner.manufacturer_values()
    rim = Host(Platform(dram_size=256 << 20)).build_realm(owner.config).rim
    rv.add_realm(rim, rpv=bytes(owner.config.rpv).ljust(64, b"\0"))
    deployed = lab05._deploy(seed)
    assert set(deployed) == set(DEPLOYMENTS)
    for name, (token, nonce, anchor, realm_rim) in deployed.items():
        result = appraise(token, rv, trust_anchor=anchor, nonce=nonce)
        assert result.verification.ok
        assert result.affirming is DEPLOYMENTS[name][0], name
    assert deployed["patched image"][3] != rim and deployed["other RPV"][3] == rim


def test_the_rim_does_not_depend_on_the_machine_it_is_built_on():
    cfg = lab05._owner_config(3)
    small = Host(Platform(dram_size=256 << 20)).build_realm(cfg).rim
    large = Host(Platform(dram_size=1 << 30)).build_realm(cfg).rim
    assert small == large and len(small) == (64 if cfg.hash_algo == "sha512" else 32)


def test_exercise_text_names_the_three_exercises(lab0):
    text = str(lab0)
    assert "lab.binding_tokens" in text and "lab.owner" in text and "lab.cases" in text
    assert repr(lab0.owner.config.rpv) in text and "byte token" in str(lab0.cases[0])


# --- the answer key and the starter --------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_reference_solution_passes_for_every_seed(seed):
    result = check(solve(seed), seed=seed)
    assert result.passed, str(result)
    assert result.messages == [] and all(ok for ok, _ in result.probes)
    assert result.exercises == {1: True, 2: True, 3: True}
    assert "PASSED" in str(result) and "impostors" in str(result)


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_starter_code_fails_every_exercise_without_an_exception(seed):
    result = check(_starter(), seed=seed)
    assert isinstance(result, LabResult) and not result.passed
    assert result.exercises == {1: False, 2: False, 3: False}
    assert "raised" not in _text(result)
    assert "claim 44236" in _text(result)  # the starter hashes with the RIM's algorithm
    assert "is not among your realm values" in _text(result)


def test_check_records_progress():
    from ccalab.course import progress

    check(solve(0), seed=4)
    (a,) = progress.store().attempts(lab05.EXERCISE_ID)
    assert a.seed == 4 and a.passed
    assert lab05.EXERCISE_ID == "lab05-be-the-verifier"


# --- exercise 1 mistakes ----------------------------------------------------------------------------
def test_always_sha256_is_explained():
    def binding(token):
        t = decode(token)
        return hashlib.sha256(t.realm["cca-realm-public-key"]).digest() == t.platform["cca-platform-challenge"]
    result = check(_with(binding=binding), seed=0)
    assert result.exercises[1] is False and result.exercises[2] and result.exercises[3]
    assert "SHA-256 always gives" in _text(result)


def test_hashing_the_raw_point_is_explained():
    from ccalab.attest import cose

    def binding(token):
        t = decode(token)
        claim = t.realm["cca-realm-public-key"]
        key = cose.key_from_cose_key(claim) if len(claim) != 97 else cose.key_from_raw_point(claim)
        alg = t.realm["cca-realm-public-key-hash-algo-id"]
        return HASH_ALGORITHMS[alg](cose.raw_point_from_key(key)).digest() == t.platform["cca-platform-challenge"]
    result = check(_with(binding=binding), seed=1)
    assert not result.exercises[1] and "raw point" in _text(result)


def test_calling_the_verifier_in_binding_holds_is_refused():
    result = check(_with(binding=lambda token: verify(token)["binding"].passed), seed=0)
    assert not result.exercises[1] and "verifier's own binding check" in _text(result) and "verify" in _text(result)


def test_non_bool_and_raising_binding_answers_are_explained():
    def digest(token):
        t = decode(token)
        return hashlib.sha256(t.realm["cca-realm-public-key"]).digest()
    result = check(_with(binding=digest), seed=0)
    assert "must return True or False" in _text(result) and "digest == challenge" in _text(result)

    def dashed(token):
        t = decode(token)
        return getattr(hashlib, t.realm["cca-realm-public-key-hash-algo-id"])().digest() == b""
    result = check(_with(binding=dashed), seed=0)
    assert "AttributeError" in _text(result) and "HASH_ALGORITHMS" in _text(result)


def test_always_true_is_explained():
    result = check(_with(binding=lambda token: True), seed=2)
    assert "said True for every token" in _text(result)


# --- exercise 2 mistakes ----------------------------------------------------------------------------
def _rim(owner):
    return Host(Platform(dram_size=256 << 20)).build_realm(owner.config).rim


def test_a_missing_rpv_lets_the_hosts_rpv_through():
    def provision(owner):
        return owner.manufacturer_values().add_realm(_rim(owner))
    result = check(_with(provision=provision), seed=0)
    assert not result.exercises[2] and "RPV of its own choosing" in _text(result)
    assert (False, "exercise 2, other RPV: affirmed, should be refused") in result.probes


def test_an_unpadded_rpv_is_explained():
    def provision(owner):
        return owner.manufacturer_values().add_realm(_rim(owner), rpv=owner.config.rpv)
    result = check(_with(provision=provision), seed=1)
    assert not result.exercises[2] and "zero-padded to 64" in _text(result)


def test_platform_values_without_the_configuration_are_caught():
    def provision(owner):
        full = owner.manufacturer_values()
        rv = ReferenceValues()
        p = full.platform[0]
        rv.add_platform(p.implementation_id, None, p.sw_components)
        return rv.add_realm(_rim(owner), rpv=bytes(owner.config.rpv).ljust(64, b"\0"))
    result = check(_with(provision=provision), seed=2)
    assert not result.exercises[2] and "claim 2401" in _text(result)


def test_no_platform_values_are_explained():
    def provision(owner):
        return ReferenceValues().add_realm(_rim(owner), rpv=bytes(owner.config.rpv).ljust(64, b"\0"))
    result = check(_with(provision=provision), seed=0)
    assert "owner.manufacturer_values()" in _text(result)


def test_reference_values_as_json_are_accepted():
    def provision(owner):
        return SOLUTION.provision(owner).to_json()
    assert check(_with(provision=provision), seed=0).exercises[2]


@pytest.mark.parametrize("bad, words", [
    (lambda owner: None, "returned None"),
    (lambda owner: 42, "got the int 42"),
    (lambda owner: "{not json", "not reference values"),
    (lambda: None, "must take one parameter, owner"),
])
def test_wrong_provision_answers_give_a_message(bad, words):
    result = check(_with(provision=bad), seed=0)
    assert not result.exercises[2] and words in _text(result)


# --- exercise 3 mistakes ----------------------------------------------------------------------------
def _binding_case_seed(cause):
    for seed in range(40):
        if cause in [c for c, _ in make_exercise(seed)._cases]:
            return seed
    pytest.fail(f"no seed has {cause}")  # pragma: no cover


@pytest.mark.parametrize("cause, other", [("other-platform", "substituted-rak"), ("substituted-rak", "other-platform")])
def test_confusing_the_two_binding_causes_points_at_the_known_good_token(cause, other):
    seed = _binding_case_seed(cause)

    def diagnose(case):
        step, said = SOLUTION.diagnose(case)
        return (step, other) if said == cause else (step, said)
    result = check(_with(diagnose=diagnose), seed=seed)
    assert not result.exercises[3]
    text = _text(result)
    assert "case.known_good" in text and "instance ID (claim 256)" in text
    same = "the platform instance ID (claim 256) is the same" if cause == "substituted-rak" else "is different"
    assert same in text


def test_a_step_that_passes_or_comes_later_is_explained():
    def diagnose(case):
        step, said = SOLUTION.diagnose(case)
        return ("freshness" if step != "freshness" else "binding", said)
    result = check(_with(diagnose=diagnose), seed=0)
    assert not result.exercises[3]
    assert "passes for this token" in _text(result) or "an earlier step fails first" in _text(result)


def test_a_cause_of_another_step_is_explained():
    def diagnose(case):
        step, _said = SOLUTION.diagnose(case)
        return step, ("replayed" if step != "freshness" else "malformed")
    result = check(_with(diagnose=diagnose), seed=1)
    assert "would make" in _text(result) and "fail first" in _text(result)


def test_diagnosis_as_a_dict_is_accepted_and_unknown_names_are_reported():
    def as_dict(case):
        step, cause = SOLUTION.diagnose(case)
        return {"step": step, "cause": cause}
    assert check(_with(diagnose=as_dict), seed=0).exercises[3]
    result = check(_with(diagnose=lambda case: ("signature", "hacked")), seed=0)
    assert "is not a verification step" in _text(result) and "is not one of the causes" in _text(result)


def test_exception_in_diagnose_names_the_learners_line():
    def diagnose(case):
        return case.verdict
    result = check(_with(diagnose=diagnose), seed=0)
    assert "AttributeError" in _text(result) and "return case.verdict" in _text(result)


# --- the checker's own robustness -------------------------------------------------------------------
@pytest.mark.parametrize("bad, words", [
    (None, "is None"),
    ([], "got a list"),
    (lambda: 0, "got a function"),
    ({}, "no 'binding' function"),
    ({"binding": 3, "provision": "x", "diagnose": None}, "must be your function binding_holds"),
    ({**{"rims": 1}}, "that no exercise reads"),
])
def test_wrong_answer_shapes_give_a_message_not_a_traceback(bad, words):
    result = check(bad, seed=0)
    assert isinstance(result, LabResult) and not result.passed
    assert words in _text(result)


def test_bad_seed_gives_a_message():
    result = check(solve(0), seed="zero")
    assert not result.passed and "seed" in _text(result)


def test_hints_are_numbered_and_never_raise():
    assert "44240" in hint(1)
    assert "HASH_ALGORITHMS" in hint(2)
    assert "build_realm(owner.config).rim" in hint(3)
    assert "known_good" in hint(5)
    assert hint(0).startswith("There are hints") and hint("x").startswith("There are hints")


def test_result_renders_green_when_passed_and_red_when_not():
    good, bad = check(solve(0), seed=0), check(None, seed=0)
    assert "PASSED" in str(good) and "#1a7f37" in good._repr_html_()
    assert "NOT YET" in str(bad) and "#cf222e" in bad._repr_html_()


def test_check_never_raises_on_odd_return_values():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    odd = st.one_of(st.none(), st.integers(), st.text(max_size=8), st.binary(max_size=8),
                    st.tuples(st.text(max_size=12), st.text(max_size=12)), st.dictionaries(st.text(max_size=4),
                                                                                          st.integers(), max_size=2))

    @hypothesis.settings(max_examples=6, deadline=None)
    @hypothesis.given(odd, odd, odd)
    def run(b, p, d):
        result = check({"binding": lambda t: b, "provision": lambda o: p, "diagnose": lambda c: d}, seed=0)
        assert isinstance(result, LabResult) and not result.passed and result.messages

    run()


# --- the published vector of notebook 05 -----------------------------------------------------------
def test_the_published_token_verifies_and_is_affirmed_by_its_reference_values():
    vec = lab05.published_vector()
    v = verify(vec.token, vec.cpak_pem)
    assert v.ok and v.token.envelope == "legacy-399" and v["freshness"].passed is None
    assert appraise(v, vec.reference_values).affirming
    assert vec.folder.name == "attestation"


def test_a_missing_published_vector_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(lab05, "_vector_folders", lambda: [tmp_path])
    with pytest.raises(FileNotFoundError, match="cca_token.cbor"):
        lab05.published_vector()


def test_the_shipped_vector_is_a_copy_of_the_test_vector():
    from pathlib import Path

    root = Path(lab05.__file__).resolve().parent / "data" / "attestation"
    tests = Path(__file__).resolve().parents[1] / "data" / "attestation"
    for name in ("cca_token.cbor", "cca_platform.pub", "rv.json"):
        assert (root / name).read_bytes() == (tests / name).read_bytes(), name
