"""A learner's progress: every checked attempt at an exercise, kept in one small local JSON file.

The store lives at ``$CCALAB_HOME/progress.json`` (default ``~/.ccalab/progress.json``). It is a
file, so it survives a kernel restart; it does not survive the end of a Binder session, which is
what :func:`export` and :func:`import_` are for: download one file, upload it next time.

- Writes are atomic: a temporary file in the same folder, ``fsync``, then ``os.replace``. A crash
  leaves either the old file or the new one, never half of one.
- Importing merges: every attempt has an id, and an attempt already present is never duplicated or
  dropped, so importing the same file twice, or two machines' exports, loses nothing.
- A corrupted store is moved aside as ``progress.json.corrupt-<timestamp>`` with a warning, and a
  fresh store starts; no other file is touched. When only some entries are malformed, the good
  ones are kept and a copy of the original is put aside the same way.

Lab checkers call :func:`safe_record`, which never raises: a broken store must not break checking.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

FORMAT = "ccalab-progress"
FORMAT_VERSION = 1
FILENAME = "progress.json"


class ProgressWarning(UserWarning):
    """Something was wrong with the progress store; the message says what was done about it."""


def home() -> Path:
    """The folder ccalab keeps learner files in: ``$CCALAB_HOME`` or ``~/.ccalab``."""
    env = os.environ.get("CCALAB_HOME")
    return Path(env).expanduser() if env else Path.home() / ".ccalab"


def default_path() -> Path:
    """Where the progress store is: ``home() / "progress.json"`` (read at each call)."""
    return home() / FILENAME


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


@dataclass(frozen=True)
class Attempt:
    """One checked attempt at an exercise."""

    exercise: str
    seed: int
    passed: bool
    timestamp: str
    id: str

    def to_json(self) -> dict:
        return {"id": self.id, "exercise": self.exercise, "seed": self.seed, "passed": self.passed,
                "timestamp": self.timestamp}

    @classmethod
    def from_json(cls, d) -> "Attempt":
        """An attempt from its JSON dict; ValueError if the dict is not one."""
        if not isinstance(d, dict):
            raise ValueError("an attempt is a JSON object")
        ex, seed, passed, ts = d.get("exercise"), d.get("seed"), d.get("passed"), d.get("timestamp")
        if not isinstance(ex, str) or not ex:
            raise ValueError("an attempt needs an exercise id")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("an attempt's seed is an int")
        if not isinstance(passed, bool):
            raise ValueError("an attempt's 'passed' is true or false")
        if not isinstance(ts, str):
            raise ValueError("an attempt needs a timestamp")
        try:
            datetime.fromisoformat(ts)
        except ValueError:
            raise ValueError(f"{ts!r} is not an ISO 8601 timestamp") from None
        aid = d.get("id")
        if not isinstance(aid, str) or not aid:
            aid = f"{ex}|{seed}|{passed}|{ts}"  # files written by hand: the content is the identity
        return cls(ex, seed, passed, ts, aid)


@dataclass(frozen=True)
class ExerciseProgress:
    """The summary of one exercise: attempts, passes, and when it was first completed."""

    exercise: str
    attempts: int
    passes: int
    first_passed: str | None
    last_attempt: str | None
    seeds_passed: tuple

    @property
    def completed(self) -> bool:
        return self.passes > 0


def _parse(data) -> tuple[list, list]:
    """(attempts, problems) from a decoded JSON document; ValueError if it is not a store at all."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a ccalab progress file (no \"format\": \"{FORMAT}\")")
    ver = data.get("version")
    if not isinstance(ver, int) or ver > FORMAT_VERSION:
        raise ValueError(f"progress format version {ver!r} is not one this ccalab reads (up to {FORMAT_VERSION})")
    raw = data.get("attempts")
    if not isinstance(raw, list):
        raise ValueError("the progress file has no list of attempts")
    out, bad = [], []
    for i, d in enumerate(raw):
        try:
            out.append(Attempt.from_json(d))
        except ValueError as exc:
            bad.append(f"entry {i}: {exc}")
    return out, bad


def _merge(*lists) -> list:
    seen, out = set(), []
    for lst in lists:
        for a in lst:
            if a.id not in seen:
                seen.add(a.id)
                out.append(a)
    return sorted(out, key=lambda a: (a.timestamp, a.id))


def _atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: temp file in the same folder, fsync, os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError, AttributeError):  # make the rename itself durable (POSIX)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _document(attempts) -> str:
    from .._version import __version__

    doc = {"format": FORMAT, "version": FORMAT_VERSION, "ccalab": __version__,
           "attempts": [a.to_json() for a in attempts]}
    return json.dumps(doc, indent=1) + "\n"


class ProgressStore:
    """The progress file at ``path`` (default: :func:`default_path`, resolved when created).

    Every method reads the file afresh, so two kernels sharing a home see each other's attempts,
    and writes go through an atomic replace (with an advisory lock where the OS offers one).

    Attributes
    ----------
    path : Path
    notices : list of str
        What was wrong with the file and what was done about it (also issued as warnings).
    """

    def __init__(self, path=None):
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.notices: list[str] = []

    # --- reading ------------------------------------------------------------------------------
    def _put_aside(self, why: str, move: bool) -> Path:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{_stamp()}")
        n = 1
        while aside.exists():
            aside = self.path.with_name(f"{self.path.name}.corrupt-{_stamp()}-{n}")
            n += 1
        if move:
            os.replace(self.path, aside)
        else:
            shutil.copyfile(self.path, aside)
        return aside

    def _notice(self, text: str) -> None:
        self.notices.append(text)
        warnings.warn(text, ProgressWarning, stacklevel=4)

    def attempts(self, exercise: str | None = None) -> list:
        """Every recorded :class:`Attempt` (of ``exercise`` only, if given), oldest first."""
        if not self.path.exists():
            return []
        try:
            raw = self.path.read_text(encoding="utf-8")
            out, bad = _parse(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
            aside = self._put_aside(str(exc), move=True)
            self._notice(f"The progress file {self.path} could not be read ({exc}). It was kept as {aside.name} "
                         "and a fresh progress file was started; nothing else was changed.")
            return []
        if bad:
            aside = self._put_aside("; ".join(bad), move=False)
            self._write(out)
            self._notice(f"{len(bad)} malformed entr{'y' if len(bad) == 1 else 'ies'} in {self.path} "
                         f"({'; '.join(bad[:3])}) were dropped; the other {len(out)} were kept. The original "
                         f"file was copied to {aside.name}.")
        out = _merge(out)
        if exercise is not None:
            out = [a for a in out if a.exercise == exercise]
        return out

    def summary(self) -> dict:
        """``{exercise id: ExerciseProgress}`` over every recorded attempt, sorted by exercise id."""
        groups: dict[str, list] = {}
        for a in self.attempts():
            groups.setdefault(a.exercise, []).append(a)
        out = {}
        for ex in sorted(groups):
            atts = groups[ex]
            passed = [a for a in atts if a.passed]
            out[ex] = ExerciseProgress(ex, len(atts), len(passed), passed[0].timestamp if passed else None,
                                       atts[-1].timestamp, tuple(sorted({a.seed for a in passed})))
        return out

    # --- writing ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lf:
            fcntl.flock(lf, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lf, fcntl.LOCK_UN)

    def _write(self, attempts) -> None:
        _atomic_write_text(self.path, _document(attempts))

    def record(self, exercise: str, seed: int, passed: bool, timestamp: str | None = None) -> Attempt:
        """Record one attempt and return it."""
        if not isinstance(exercise, str) or not exercise:
            raise ValueError("an exercise id is a non-empty string, e.g. 'lab01-pas-layout'")
        if isinstance(seed, bool) or not isinstance(seed, int):
            try:
                seed = int(seed)
            except (TypeError, ValueError):
                raise TypeError(f"the seed is an int, got {seed!r}") from None
        att = Attempt(exercise, int(seed), bool(passed), timestamp or _now(), uuid.uuid4().hex)
        with self._locked():
            self._write(_merge(self.attempts(), [att]))
        return att

    def export(self, path) -> Path:
        """Write every attempt to ``path`` (one JSON file, the same format as the store)."""
        path = Path(path).expanduser()
        _atomic_write_text(path, _document(self.attempts()))
        return path

    def import_text(self, text: str, source: str = "the uploaded file") -> int:
        """Merge an exported progress document given as text; returns how many attempts were new.

        Raises ValueError (and changes nothing) if ``text`` is not a progress file.
        """
        try:
            incoming, bad = _parse(json.loads(text))
        except ValueError as exc:
            raise ValueError(f"{source} is not a ccalab progress export: {exc}") from None
        if bad:
            self._notice(f"{len(bad)} malformed entr{'y' if len(bad) == 1 else 'ies'} in {source} were skipped "
                         f"({'; '.join(bad[:3])}).")
        with self._locked():
            have = self.attempts()
            ids = {a.id for a in have}
            new = [a for a in incoming if a.id not in ids]
            if new:
                self._write(_merge(have, new))
        return len({a.id for a in new})

    def import_(self, path) -> int:
        """Merge the export at ``path`` into the store; returns how many attempts were new.

        Nothing already recorded is lost or duplicated. Raises ValueError (and changes nothing) if
        the file is not a progress export, and FileNotFoundError if it does not exist.
        """
        path = Path(path).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a ccalab progress export: it is not text") from None
        return self.import_text(text, source=str(path))

    def reset(self) -> Path | None:
        """Start again with no attempts. The old file is kept as ``progress.json.reset-<timestamp>``."""
        with self._locked():
            if not self.path.exists():
                return None
            aside = self.path.with_name(f"{self.path.name}.reset-{_stamp()}")
            os.replace(self.path, aside)
            return aside

    # --- text ---------------------------------------------------------------------------------
    def text(self, exercises=()) -> str:
        """A plain-text table of progress (``exercises`` are listed even without attempts)."""
        return progress_text(self.summary(), exercises, self.path)


def progress_text(summary: dict, exercises=(), path=None) -> str:
    """Render a summary (from :meth:`ProgressStore.summary`) as a text table."""
    names = list(dict.fromkeys(list(exercises) + list(summary)))
    lines = [f"Progress ({path})" if path is not None else "Progress"]
    if not names:
        return lines[0] + "\n  no attempts recorded yet"
    width = max(len("exercise"), *(len(n) for n in names))
    lines.append(f"  {'exercise':<{width}}  {'attempts':>8}  {'passed':>6}  completed")
    for n in names:
        s = summary.get(n)
        if s is None:
            lines.append(f"  {n:<{width}}  {0:>8}  {0:>6}  not yet")
        else:
            done = f"yes, {s.first_passed[:19].replace('T', ' ')} UTC" if s.completed else "not yet"
            lines.append(f"  {n:<{width}}  {s.attempts:>8}  {s.passes:>6}  {done}")
    return "\n".join(lines)


# --- module-level conveniences on the default store -----------------------------------------------
def store(path=None) -> ProgressStore:
    """The progress store at ``path`` or at :func:`default_path` (resolved now)."""
    return ProgressStore(path)


def record(exercise: str, seed: int, passed: bool) -> Attempt:
    """Record an attempt in the default store."""
    return store().record(exercise, seed, passed)


def safe_record(exercise: str, seed, passed: bool):
    """Record an attempt in the default store, or do nothing if that fails. Never raises."""
    try:
        return store().record(exercise, int(seed), bool(passed))
    except Exception:  # a broken or read-only store must never break a checker
        return None


def recorded(exercise: str):
    """Decorate a checker so that every result it returns is recorded as an attempt at ``exercise``.

    The checker's result needs ``passed`` and ``seed`` attributes. Recording goes through
    :func:`safe_record`, so the checker behaves exactly as before when the store is broken.
    """
    import functools

    def wrap(fn):
        @functools.wraps(fn)
        def checker(*args, **kwargs):
            result = fn(*args, **kwargs)
            try:
                safe_record(exercise, result.seed, result.passed)
            except Exception:
                pass
            return result

        checker.exercise = exercise
        return checker

    return wrap


def summary() -> dict:
    """The default store's summary (see :meth:`ProgressStore.summary`)."""
    return store().summary()


def export(path) -> Path:
    """Export the default store to ``path``."""
    return store().export(path)


def import_(path) -> int:
    """Merge the export at ``path`` into the default store; returns how many attempts were new."""
    return store().import_(path)


__all__ = ["Attempt", "ExerciseProgress", "ProgressStore", "ProgressWarning", "home", "default_path", "store",
           "record", "safe_record", "recorded", "summary", "export", "import_", "progress_text", "FORMAT"]
