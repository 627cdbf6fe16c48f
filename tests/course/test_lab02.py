"""Lab 02 (page tables): the answer key passes, the starter fails, and mistakes are explained."""

import dataclasses

import pytest
from _labkit import SEEDS, load_solution, run_starter

from ccalab.arch.mmu.faults import FaultKind
from ccalab.course import lab02
from ccalab.course.lab02 import (AP_RO_NONE, AP_RW_NONE, AP_RW_RW, LabResult, boot, check, hint, make_exercise,
                                 s1_leaf, s2_leaf)

SOLUTION = load_solution("02-page-tables.py")
solve = SOLUTION.solve


def _starter_build():
    """The lab's shipped starter ``build``."""
    return run_starter("02-page-tables.ipynb", "build")


def _text(result):
    return " ".join(result.messages)


class _Edit:
    """A TableBuilder stand-in that lets a test change the leaves the reference solution writes."""

    def __init__(self, builder, edit):
        self.builder, self.edit = builder, edit

    def map(self, ia, leaf, level=3, **kw):
        return self.builder.map(ia, self.edit(ia, leaf, level), level, **kw)


def _mistake(s1_edit=None, s2_edit=None, ex_edit=None):
    """The reference build, with its stage-1 / stage-2 leaves (or its view of the layout) altered."""
    def build(ex, s1, s2):
        ex2 = ex_edit(ex) if ex_edit else ex
        SOLUTION.build(ex2, _Edit(s1, s1_edit) if s1_edit else s1, _Edit(s2, s2_edit) if s2_edit else s2)
    return build


def _in(region, ia):
    start = region.va if isinstance(region, lab02.Stage1Region) else region.ipa
    return start <= ia < region.end


# --- the exercise -------------------------------------------------------------------------------
def test_exercise_is_reproducible_from_its_seed():
    assert make_exercise(5) == make_exercise(5)


def test_exercise_differs_between_seeds():
    layouts = {(e.stage1[0].va, e.stage2[0].pa, e.stage2[2].pa) for e in map(make_exercise, range(12))}
    assert len(layouts) > 6


@pytest.mark.parametrize("seed", SEEDS)
def test_exercise_is_consistent(seed):
    ex = make_exercise(seed)
    for r in ex.stage1:  # every stage-1 page lands in exactly one stage-2 region
        for i in range(r.pages):
            assert sum(q.ipa <= r.ipa + i * 4096 < q.end for q in ex.stage2) == 1
    blocks = [r for r in ex.stage2 if r.level == 2]
    assert blocks and all(r.ipa % (2 << 20) == 0 and r.pa % (2 << 20) == 0 for r in blocks)
    spans = sorted((r.ipa, r.end) for r in ex.stage2)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    vspans = sorted((r.va, r.end) for r in ex.stage1)
    assert all(a[1] < b[0] for a, b in zip(vspans, vspans[1:]))  # a gap page between regions
    assert ex.region("guest page tables").ipa == ex.s1_pool[0] == ex.region("guest page tables").pa


def test_exercise_text_and_html_show_both_stages():
    ex = make_exercise(0)
    text, page = str(ex), ex._repr_html_()
    for name in ("kernel code", "guest RAM", "UART", "one 2MB block", "EL0 only"):
        assert name in text and name in page


# --- the answer key and the starter --------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_reference_solution_passes_for_every_seed(seed):
    result = check(solve(seed), seed=seed)
    assert result.passed, str(result)
    assert result.messages == [] and all(ok for ok, _ in result.probes)
    assert result.translations > 200 and "PASSED" in str(result)


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_starter_code_fails_the_checker_without_an_exception(seed):
    result = check(_starter_build(), seed=seed)
    assert isinstance(result, LabResult) and not result.passed
    assert result.messages and "raised" not in _text(result)


def test_check_records_progress():
    from ccalab.course import progress

    check(solve(0), seed=4)
    (a,) = progress.store().attempts("lab02-page-tables")
    assert a.seed == 4 and a.passed


def test_boot_gives_an_explorable_machine():
    ex = make_exercise(0)
    m = boot(solve(0), seed=0)
    r = m.pe.translate(ex.stage1[0].va, "exec")
    assert r.ok and r.pa == ex.stage2[0].pa + (ex.stage1[0].ipa - ex.stage2[0].ipa)
    assert m.setup.va == ex.stage1[0].va and m.setup.pe is m.pe


# --- common mistakes ------------------------------------------------------------------------------
def test_user_data_read_only_at_el0_is_a_permission_mistake():
    ex = make_exercise(0)
    user = ex.region("user data")
    result = check(_mistake(s1_edit=lambda ia, d, lv: (d & ~(3 << 6)) | (AP_RW_NONE << 6) if _in(user, ia) else d),
                   seed=0)
    assert not result.passed
    assert "user data" in _text(result) and "AP[2:1]=01" in _text(result) and "permission fault" in _text(result)


def test_kernel_code_writable_is_reported_with_its_ap_bits():
    ex = make_exercise(1)
    code = ex.region("kernel code")
    result = check(_mistake(s1_edit=lambda ia, d, lv: (d & ~(3 << 6)) | (AP_RW_NONE << 6) if _in(code, ia) else d),
                   seed=1)
    assert not result.passed
    text = _text(result)
    assert "is writable at EL1 but must be read-only" in text and "AP[2:1]=10" in text and "AP_RO_NONE" in text


def test_el0_access_to_a_kernel_page_is_reported():
    ex = make_exercise(2)
    data = ex.region("kernel data")
    result = check(_mistake(s1_edit=lambda ia, d, lv: (d & ~(3 << 6)) | (AP_RW_RW << 6) if _in(data, ia) else d),
                   seed=2)
    assert not result.passed
    assert "writable at EL0 but must be inaccessible" in _text(result)


def test_missing_pxn_on_kernel_data_is_reported():
    result = check(_mistake(s1_edit=lambda ia, d, lv: d & ~(1 << 53)), seed=0)
    assert not result.passed and "PXN (bit 53)" in _text(result)


def test_dirty_tracked_page_read_only_at_stage1_faults_at_the_wrong_stage():
    ex = make_exercise(3)
    buf = ex.region("dirty-tracked buffer")
    result = check(_mistake(s1_edit=lambda ia, d, lv: (d & ~(3 << 6)) | (AP_RO_NONE << 6) if _in(buf, ia) else d),
                   seed=3)
    assert not result.passed
    assert "faults at stage 1" in _text(result) and "EL2" in _text(result)


def test_stage2_write_permission_where_the_hypervisor_forbids_it():
    result = check(_mistake(s2_edit=lambda ia, d, lv: d | (1 << 7)), seed=0)
    assert not result.passed
    assert "dirty tracking" in _text(result) and "writable through stage 2" in _text(result)
    assert "S2AP=R-" in _text(result)


@pytest.mark.parametrize("stage", [1, 2])
def test_missing_access_flag_is_explained(stage):
    clear = lambda ia, d, lv: d & ~(1 << 10)  # noqa: E731
    result = check(_mistake(**{f"s{stage}_edit": clear}), seed=0)
    assert not result.passed
    assert "access flag fault" in _text(result) and "AF (bit 10)" in _text(result)
    assert f"at stage {stage}" in _text(result)


def test_reserved_level3_encoding_is_explained():
    result = check(_mistake(s1_edit=lambda ia, d, lv: d & ~2), seed=0)
    assert not result.passed and "bits[1:0] = 01 at level 3 are reserved" in _text(result)


def test_pages_instead_of_the_2mb_block_are_reported():
    ex_edit = lambda ex: dataclasses.replace(  # noqa: E731
        ex, stage2=tuple(dataclasses.replace(r, level=3) if r.level == 2 else r for r in ex.stage2))
    result = check(_mistake(ex_edit=ex_edit), seed=0)
    assert not result.passed
    assert "guest RAM" in _text(result) and "one 2MB block" in _text(result)


def test_block_where_pages_are_needed_is_reported():
    ex = make_exercise(0)
    ud = next(r for r in ex.stage2 if r.name == "user data")

    def build(ex, s1, s2):
        SOLUTION.build(ex, s1, s2)
        base = ud.ipa & ~((2 << 20) - 1)  # a raw, misaligned level-2 block over the user pages
        s2.map(base, (ud.pa & ~0xFFF) | (0b0110 << 2) | (1 << 6) | (1 << 7) | (3 << 8) | (1 << 10) | (2 << 53) | 1, 2)

    result = check(build, seed=0)
    assert not result.passed
    text = _text(result)
    assert "block (level 2), but this region needs 4KB pages" in text
    assert "must map to PA" in text and "aligned to its size" in text


def test_misaligned_block_with_the_helper_is_an_explained_exception():
    def build(ex, s1, s2):
        uart = ex.region("UART")
        s2.map(ex.stage2[2].ipa, s2_leaf(ex.stage2[2].pa, 2), 2)
        s1.map(uart.va, s1_leaf(uart.ipa, 3), 3)

    result = check(build, seed=0)
    assert not result.passed
    text = _text(result)
    assert "raised ValueError" in text and "not aligned" in text and "multiples of 2MB" in text
    assert "line" in text and "s2.map(" in text


def test_wrong_pa_is_reported():
    ex = make_exercise(0)
    ud2 = ex.region("user data (2)")
    result = check(_mistake(s2_edit=lambda ia, d, lv: d + 0x1000 if ia == ud2.ipa else d), seed=0)
    assert not result.passed
    assert f"must map to PA {ud2.pa:#x}" in _text(result)


def test_wrong_ipa_at_stage1_is_reported():
    ex = make_exercise(0)
    code = ex.region("kernel code")
    result = check(_mistake(s1_edit=lambda ia, d, lv: d + 0x1000 if ia == code.va else d), seed=0)
    assert not result.passed
    assert f"must translate to IPA {code.ipa:#x}" in _text(result)


def test_device_page_as_normal_memory_is_reported_at_both_stages():
    ex = make_exercise(0)
    uart = ex.region("UART")
    r1 = check(_mistake(s1_edit=lambda ia, d, lv: d & ~(7 << 2) if ia == uart.va else d), seed=0)
    assert not r1.passed and "ATTR_DEVICE" in _text(r1)
    r2 = check(_mistake(s2_edit=lambda ia, d, lv: (d & ~(0xF << 2)) | (0b0110 << 2) if ia == uart.ipa else d),
               seed=0)
    assert not r2.passed and "S2_DEVICE" in _text(r2)


def test_unmapped_guest_page_tables_are_explained_as_s1ptw():
    ex_edit = lambda ex: dataclasses.replace(  # noqa: E731
        ex, stage2=tuple(r for r in ex.stage2 if r.name != "guest page tables"))
    result = check(_mistake(ex_edit=ex_edit), seed=0)
    assert not result.passed
    text = _text(result)
    assert "S1PTW" in text and "guest page tables" in text
    assert "just before" not in text  # the neighbours cannot be judged, and are not blamed


def test_an_extra_neighbouring_page_is_reported():
    ex = make_exercise(0)
    code = ex.region("kernel code")

    def build(ex, s1, s2):
        SOLUTION.build(ex, s1, s2)
        s1.map(code.end, s1_leaf(code.ipa, 3, ap=AP_RO_NONE), 3)

    result = check(build, seed=0)
    assert not result.passed and "just after kernel code" in _text(result)


def test_exception_in_learner_code_is_explained():
    def build(ex, s1, s2):
        return 1 / 0

    result = check(build, seed=0)
    assert not result.passed
    assert "ZeroDivisionError" in _text(result) and "return 1 / 0" in _text(result)


def test_wrong_attribute_names_get_a_pointer_to_the_fields():
    def build(ex, s1, s2):
        for r in ex.stage1:
            s2.map(r.ipa, s2_leaf(r.pa, 3), 3)

    result = check(build, seed=0)
    assert not result.passed
    assert "AttributeError" in _text(result) and ".pages" in _text(result)


@pytest.mark.parametrize("bad, words", [
    (None, "is None"),
    ([], "got a list"),
    ("build", "got a str"),
    (lambda ex: None, "exactly these three parameters"),
])
def test_wrong_types_give_a_message_not_a_traceback(bad, words):
    result = check(bad, seed=0)
    assert isinstance(result, LabResult) and not result.passed
    assert words in _text(result)


def test_bad_seed_gives_a_message():
    result = check(solve(0), seed="zero")
    assert not result.passed and "seed" in _text(result)


def test_garbage_descriptors_never_raise():
    def build(ex, s1, s2):
        for r in ex.stage1:
            s1.map(r.va, (1 << 64) - 1 - 0xFFF_FFF0_0000, 3)
        for r in ex.stage2:
            s2.map(r.ipa, 0xFFFF_FFFF_FFFF_FFFF >> 1, 3)

    result = check(build, seed=0)
    assert isinstance(result, LabResult) and not result.passed and result.messages


def test_long_reports_are_capped():
    result = check(_starter_build(), seed=0)
    assert len(result.messages) <= lab02._MAX_MESSAGES + 1


# --- display --------------------------------------------------------------------------------------
def test_result_renders_green_when_passed_and_red_when_not():
    good, bad = check(solve(0), seed=0), check(None, seed=0)
    assert "PASSED" in str(good) and "#1a7f37" in good._repr_html_()
    assert "NOT YET" in str(bad) and "#cf222e" in bad._repr_html_()
    assert bool(good) and not bool(bad)


def test_hints_are_numbered_and_never_raise():
    assert "make_exercise" in hint(1)
    assert "guest page tables" in hint(2)
    assert hint(99).startswith("There are hints")
    assert hint("x").startswith("There are hints")
    assert "**Hint:**" in hint(3)._repr_markdown_()


def test_fault_kinds_the_checker_expects_are_the_models():
    """The tracked page's write really is a stage-2 permission fault on the reference machine."""
    ex = make_exercise(0)
    m = boot(solve(0), seed=0)
    f = m.pe.translate(ex.region("dirty-tracked buffer").va, "write").fault
    assert f.kind == FaultKind.PERMISSION and f.stage == 2 and f.target_el == 2


def test_check_never_raises_on_random_descriptors():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    word = st.one_of(st.integers(0, (1 << 64) - 1), st.sampled_from([0, 1, 3, 0x403, 0x8000_0743, (1 << 64) - 1]))

    @hypothesis.settings(max_examples=25, deadline=None)
    @hypothesis.given(st.lists(st.tuples(st.booleans(), st.integers(0, 5), st.integers(1, 3), word), max_size=8),
                      st.integers(0, 4))
    def run(writes, seed):
        def build(ex, s1, s2):
            for stage1, which, level, w in writes:
                regions = ex.stage1 if stage1 else ex.stage2
                r = regions[which % len(regions)]
                (s1 if stage1 else s2).map(r.va if stage1 else r.ipa, w, level)

        result = check(build, seed=seed)
        assert isinstance(result, LabResult) and not result.passed and result.messages

    run()
