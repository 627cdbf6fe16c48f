"""Lab 01 (PAS layout): the answer key passes, the starter fails, and mistakes are explained."""

import dataclasses
import json

import pytest
from _labkit import ROOT, SEEDS, load_solution

from ccalab import GPI
from ccalab.arch.gpt import PASRegion
from ccalab.course import lab01
from ccalab.course.lab01 import LabResult, check, hint, make_exercise

solve = load_solution("01-pas-layout.py").solve


def _starter_regions(seed):
    """Run the lab's shipped starter cell (the one tagged ``solution``) and return its ``regions``."""
    nb = json.loads((ROOT / "labs/01-pas-layout.ipynb").read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    env = {}
    for c in cells:
        src = "".join(c["source"])
        tags = c.get("metadata", {}).get("tags", [])
        if "solution" in tags:
            exec(src, env)
            return env["regions"]
        if src.lstrip().startswith(("from ", "import ", "SEED", "ex =")) and "check(" not in src:
            exec(src, env)
            env["SEED"] = seed
            env["ex"] = make_exercise(seed)
    raise AssertionError("the lab has no cell tagged 'solution'")


def _replace(regions, name, **changes):
    return [dataclasses.replace(r, **changes) if r.name == name else r for r in regions]


def _text(result):
    return " ".join(result.messages)


# --- the exercise -------------------------------------------------------------------------------
def test_exercise_is_reproducible_from_its_seed():
    assert make_exercise(5) == make_exercise(5)


def test_exercise_differs_between_seeds():
    layouts = {(e.dram_size, e.realm.size, e.secure.base, e.el3.size) for e in map(make_exercise, range(12))}
    assert len(layouts) > 4


@pytest.mark.parametrize("seed", SEEDS)
def test_exercise_carveouts_are_granule_aligned_and_inside_dram(seed):
    ex = make_exercise(seed)
    for c in ex.carveouts:
        assert c.base % 4096 == 0 and c.size % 4096 == 0
        assert any(b.base <= c.base and c.end <= b.end for b in ex.banks)
        assert c.end <= 1 << ex.pps
    cs = ex.carveouts
    assert all(a.end <= b.base for a, b in zip(cs, cs[1:]))


def test_exercise_text_does_not_show_the_gpis():
    text = str(make_exercise(0)) + make_exercise(0)._repr_html_()
    assert "GPI" not in text and "Realm PAS" not in text


# --- the answer key and the starter --------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_reference_solution_passes_for_every_seed(seed):
    result = check(solve(seed), seed=seed)
    assert result.passed, str(result)
    assert result.messages == []
    assert all(ok for ok, _ in result.probes)


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_starter_code_fails_the_checker(seed):
    result = check(_starter_regions(seed), seed=seed)
    assert not result.passed
    assert result.messages


def test_reference_for_one_seed_fails_another_seed_with_a_different_machine():
    a, b = next((a, b) for a in range(20) for b in range(20)
                if make_exercise(a).realm != make_exercise(b).realm)
    assert not check(solve(a), seed=b).passed


def test_merged_root_regions_are_accepted():
    ex = make_exercise(0)
    regions = [r for r in solve(0) if r.name not in ("GPT area", "EL3 data")]
    regions.append(PASRegion("EL3 + GPT", ex.el3.base, ex.el3.size + ex.gpt.size, GPI.ROOT))
    assert check(regions, seed=0).passed


# --- common mistakes ------------------------------------------------------------------------------
def test_overlapping_regions_fail_with_overlap_message():
    ex = make_exercise(1)
    regions = _replace(solve(1), "RMM carve-out", base=ex.realm.base - 0x1000, size=ex.realm.size + 0x1000)
    result = check(regions, seed=1)
    assert not result.passed
    assert "overlap" in _text(result) and "one GPI" in _text(result)


def test_misaligned_region_fails_with_granule_message():
    ex = make_exercise(2)
    regions = _replace(solve(2), "RMM carve-out", size=ex.realm.size - 0x800)
    result = check(regions, seed=2)
    assert not result.passed
    assert "not aligned" in _text(result) and "granule" in _text(result)


def test_gpt_area_not_root_fails_and_says_why():
    regions = _replace(solve(3), "GPT area", gpi=GPI.NONSECURE)
    result = check(regions, seed=3)
    assert not result.passed
    text = _text(result)
    assert "GPT area" in text and "must be Root" in text and "rewrite its own permissions" in text
    assert any(not ok and "GPT area" in t for ok, t in result.probes)


def test_rmm_carveout_not_realm_fails_and_host_can_read_it():
    result = check(_replace(solve(0), "RMM carve-out", gpi=GPI.NONSECURE), seed=0)
    assert not result.passed
    assert "must be Realm" in _text(result)
    assert any(not ok and "RMM carve-out" in t and "ALLOWED" in t for ok, t in result.probes)


def test_dram_not_covered_fails_with_coverage_message():
    regions = [r for r in solve(0) if not r.name.startswith("Non-secure")]
    result = check(regions, seed=0)
    assert not result.passed
    assert "covered by no region" in _text(result) and "All access" in _text(result)


def test_region_above_pps_fails():
    regions = solve(0) + [PASRegion("high", 1 << 40, 1 << 20, GPI.NONSECURE)]
    result = check(regions, seed=0)
    assert not result.passed and "protected PA size" in _text(result)


def test_region_over_mmio_is_left_to_the_l0_default():
    regions = solve(0) + [PASRegion("UART", 0x1C09_0000, 0x1_0000, GPI.NONSECURE)]
    result = check(regions, seed=0)
    assert not result.passed
    assert "outside DRAM" in _text(result) and "L0 default" in _text(result)


def test_block_mapped_non_secure_dram_cannot_delegate():
    seed = next(s for s in range(50) if len(make_exercise(s).banks) == 2
                and make_exercise(s).banks[1].size % (1 << 30) == 0)
    regions = _replace(solve(seed), "Non-secure DRAM1", mapping="block")
    result = check(regions, seed=seed)
    assert not result.passed
    assert "mapping='granule'" in _text(result)


@pytest.mark.parametrize("bad, words", [
    (None, "None"),
    ([], "empty"),
    (42, "list of PASRegion"),
    ("regions", "list of PASRegion"),
    ([("NS", 0x8000_0000, 1 << 30, 9)], "tuple"),
    ([{"name": "NS"}], "dict"),
    ([PASRegion("NS", 0x8000_0000, 1.5e9, GPI.NONSECURE)], "whole numbers"),
])
def test_wrong_types_give_a_message_not_a_traceback(bad, words):
    result = check(bad, seed=0)
    assert isinstance(result, LabResult) and not result.passed
    assert words in _text(result)


def test_a_single_region_instead_of_a_list_is_explained():
    result = check(solve(0)[0], seed=0)
    assert not result.passed and "list" in _text(result)


def test_bad_seed_gives_a_message():
    result = check(solve(0), seed="zero")
    assert not result.passed and "seed" in _text(result)


# --- display --------------------------------------------------------------------------------------
def test_result_renders_green_when_passed_and_red_when_not():
    good, bad = check(solve(0), seed=0), check([], seed=0)
    assert "PASSED" in str(good) and "#1a7f37" in good._repr_html_()
    assert "NOT YET" in str(bad) and "#cf222e" in bad._repr_html_()
    assert bool(good) and not bool(bad)


def test_hints_are_numbered_and_never_raise():
    assert "make_exercise" in hint(1)
    assert hint(99).startswith("There are hints")
    assert hint("x").startswith("There are hints")
    assert "**Hint:**" in hint(2)._repr_markdown_()


def test_boot_gives_an_explorable_platform():
    p = lab01.boot(solve(0), seed=0)
    ex = make_exercise(0)
    assert p.gpi(ex.realm.base) == GPI.REALM
    assert p.gpi(ex.gpt.base) == GPI.ROOT


def test_check_never_raises_on_random_layouts():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    region = st.builds(
        PASRegion,
        name=st.text(max_size=8),
        base=st.one_of(st.integers(-(1 << 20), 1 << 41), st.sampled_from([0x8000_0000, 0x8_8000_0000])),
        size=st.one_of(st.integers(1, 1 << 33), st.sampled_from([4096, 1 << 20, 1 << 30])),
        gpi=st.sampled_from(list(GPI)),
        mapping=st.sampled_from(["granule", "block"]),
    )

    @hypothesis.settings(max_examples=60, deadline=None)
    @hypothesis.given(st.lists(region, max_size=6), st.integers(0, 5))
    def run(regions, seed):
        result = check(regions, seed=seed)
        assert isinstance(result, LabResult) and not result.passed
        assert result.messages

    run()
