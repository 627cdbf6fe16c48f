"""The result every lab checker returns: passed or not, what is wrong, and what was probed;
readable as text and as green/red HTML in a notebook."""

from __future__ import annotations

import html
import traceback
from dataclasses import dataclass, field
from pathlib import Path

_GREEN, _GREEN_BG, _RED, _RED_BG = "#1a7f37", "#dafbe1", "#cf222e", "#ffebe9"


@dataclass
class CheckResult:
    """``passed``, the problems (``messages``), the probes run (``(ok, text)`` pairs) and the seed.

    A lab subclasses it to say what passing means (:meth:`passed_text`) and what its probes are
    (``PROBES_TITLE``).
    """

    passed: bool
    messages: list = field(default_factory=list)
    probes: list = field(default_factory=list)
    seed: int = 0

    PROBES_TITLE = "Probes:"

    def passed_text(self) -> str:
        return "everything checked is right."

    def __bool__(self) -> bool:
        return self.passed

    def _head(self) -> str:
        if self.passed:
            return f"PASSED (seed {self.seed}): {self.passed_text()}"
        n = len(self.messages)
        return f"NOT YET (seed {self.seed}): {n} problem{'s' if n != 1 else ''} to fix."

    def __str__(self) -> str:
        lines = [self._head()] + [f"  - {m}" for m in self.messages]
        if self.probes:
            lines.append(self.PROBES_TITLE)
            lines += [f"  [{'ok' if ok else 'FAIL'}] {t}" for ok, t in self.probes]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour, bg = (_GREEN, _GREEN_BG) if self.passed else (_RED, _RED_BG)
        mark = "&#10004;" if self.passed else "&#10008;"
        body = ""
        if self.messages:
            body += "<ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in self.messages) + "</ul>"
        if self.probes:
            items = "".join(f"<li style='color:{_GREEN if ok else _RED}'>{'&#10004;' if ok else '&#10008;'} "
                            f"{html.escape(t)}</li>" for ok, t in self.probes)
            body += f"<p>{html.escape(self.PROBES_TITLE)}</p><ul>{items}</ul>"
        return (f"<div style='border-left:6px solid {colour};background:{bg};color:#1f2328;padding:6px 12px'>"
                f"<b style='color:{colour}'>{mark} {html.escape(self._head())}</b>{body}</div>")


@dataclass(repr=False)
class ExercisesResult(CheckResult):
    """The result of a lab with several exercises: as :class:`CheckResult`, plus a ``summary`` line
    shown when everything passed and which exercises passed (``exercises``: {1: bool, 2: bool, ...})."""

    summary: str = ""
    exercises: dict = None
    PROBES_TITLE = "Exercise by exercise:"

    def passed_text(self) -> str:
        return self.summary


_PACKAGE = str(Path(__file__).resolve().parents[1])


def learner_line(exc: BaseException) -> str:
    """Where in the learner's own code an exception came from: ' (line N of f: `source`)', found
    by skipping the frames inside ccalab; '' when there is none."""
    frames = [fr for fr in traceback.extract_tb(exc.__traceback__)
              if not str(Path(fr.filename).resolve()).startswith(_PACKAGE)]
    if not frames:
        return ""
    fr = frames[-1]
    src = f": `{fr.line.strip()}`" if fr.line else ""
    return f" (line {fr.lineno} of {fr.name}{src})"
