"""``ProgressWidget``: your attempts and completions per exercise, with export, import and reset.

On Binder nothing survives the end of a session, so the widget makes the progress store
(:mod:`ccalab.course.progress`) easy to carry: **Export** writes one JSON file next to the
notebook and offers it as a download link; **Import** takes that file back through an upload
button and merges it (nothing already recorded is lost or duplicated); **Reset** asks for
confirmation before it starts again, and even then keeps the old file aside.

Everything the widget does is a public method (``refresh()``, ``export()``, ``import_bytes()``,
``request_reset()``, ``confirm_reset()``, ``cancel_reset()``), and every control is an attribute,
so tests drive it without a browser.
"""

from __future__ import annotations

import base64
import html
import warnings
from pathlib import Path

import ipywidgets as W

from ._common import FAULT_STYLE, NOTE_STYLE as _NOTE_STYLE, OK_STYLE as _OK_STYLE

from ..course import progress as _progress

_BAD_STYLE = FAULT_STYLE


def _lab_exercises() -> list:
    """(exercise id, title) of every lab in the course, in course order (empty if none found)."""
    try:
        from ..course.catalog import catalog

        return [(e.exercise, e.title) for e in catalog() if e.exercise]
    except Exception:
        return []


class ProgressWidget:
    """Show and manage the learner's progress store.

    Parameters
    ----------
    store : ProgressStore, optional
        The store to show (default: the one at ``$CCALAB_HOME/progress.json``).
    exercises : list of (id, title), optional
        Exercises to list even before any attempt (default: every lab of the course).
    export_dir : str or Path, optional
        Where **Export** writes its file (default: the current directory, which on Jupyter is the
        notebook's folder, so the file also appears in the file browser).

    Attributes
    ----------
    store : ProgressStore
    table : HTML panel with one row per exercise
    export_button, refresh_button, reset_button, confirm_button, cancel_button : buttons
    upload : FileUpload for importing an export
    export_link, message : HTML panels
    confirm_box : the confirmation row (hidden until Reset is pressed)
    ui : the root widget
    """

    def __init__(self, store=None, exercises=None, export_dir=None):
        self.store = store if store is not None else _progress.store()
        self.exercises = list(exercises) if exercises is not None else _lab_exercises()
        self.export_dir = Path(export_dir) if export_dir is not None else Path(".")
        self.title = W.HTML("<b>Your progress</b>")
        self.table = W.HTML()
        self.message = W.HTML()
        self.export_link = W.HTML()
        self.refresh_button = W.Button(description="Refresh", icon="refresh",
                                       tooltip="Read the progress file again")
        self.export_button = W.Button(description="Export", icon="download",
                                      tooltip="Write your progress to one file you can download and keep")
        self.upload = W.FileUpload(accept=".json", multiple=False, description="Import",
                                   tooltip="Upload a progress file exported earlier; it is merged into yours")
        self.reset_button = W.Button(description="Reset", icon="trash", button_style="warning",
                                     tooltip="Start again with no attempts (asks for confirmation first)")
        self.confirm_button = W.Button(description="Yes, erase", button_style="danger",
                                       tooltip="Erase every recorded attempt (the old file is kept aside)")
        self.cancel_button = W.Button(description="Cancel", tooltip="Keep your progress")
        self.confirm_text = W.HTML("Erase every recorded attempt? Export first if you want to keep it.")
        self.confirm_box = W.HBox([self.confirm_text, self.confirm_button, self.cancel_button],
                                  layout=W.Layout(display="none"))

        self.refresh_button.on_click(lambda _b: self.refresh())
        self.export_button.on_click(lambda _b: self.export())
        self.upload.observe(self._on_upload, names="value")
        self.reset_button.on_click(lambda _b: self.request_reset())
        self.confirm_button.on_click(lambda _b: self.confirm_reset())
        self.cancel_button.on_click(lambda _b: self.cancel_reset())

        self.ui = W.VBox([
            self.title,
            self.table,
            W.HBox([self.refresh_button, self.export_button, self.upload, self.reset_button]),
            self.confirm_box,
            self.export_link,
            self.message,
        ])
        self.refresh()

    # --- helpers -------------------------------------------------------------------------------
    def _say(self, text: str, style: str = _NOTE_STYLE) -> None:
        self.message.value = f"<div style='{style}'>{html.escape(text)}</div>" if text else ""

    def _summary(self) -> dict:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", _progress.ProgressWarning)  # shown in the panel instead
            before = len(self.store.notices)
            out = self.store.summary()
            new = self.store.notices[before:]
        if new:
            self._say(" ".join(new), _BAD_STYLE)
        return out

    def rows(self) -> list:
        """One ``(exercise id, title, attempts, passes, completed)`` per exercise shown."""
        summary = self._summary()
        titles = dict(self.exercises)
        ids = list(dict.fromkeys([e for e, _ in self.exercises] + list(summary)))
        out = []
        for ex in ids:
            s = summary.get(ex)
            out.append((ex, titles.get(ex, ex), s.attempts if s else 0, s.passes if s else 0,
                        bool(s and s.completed)))
        return out

    # --- actions -------------------------------------------------------------------------------
    def refresh(self) -> list:
        """Read the store again and redraw the table; returns :meth:`rows`."""
        rows = self.rows()
        if not rows:
            body = "<tr><td colspan='4'>No exercises yet.</td></tr>"
        else:
            body = "".join(
                f"<tr><td>{html.escape(t)}<br><code>{html.escape(ex)}</code></td><td>{n}</td><td>{k}</td>"
                f"<td>{'&#10004; completed' if done else 'not yet'}</td></tr>"
                for ex, t, n, k, done in rows)
        self.table.value = ("<table><tr><th>exercise</th><th>attempts</th><th>passed</th><th>status</th></tr>"
                            f"{body}</table><small>Stored in <code>{html.escape(str(self.store.path))}</code>"
                            "</small>")
        return rows

    def export(self, path=None) -> Path:
        """Export the store to ``path`` (default: ``ccalab-progress.json`` in ``export_dir``).

        Shows a download link that carries the file itself, so it works on Binder too.
        """
        path = Path(path) if path is not None else self.export_dir / "ccalab-progress.json"
        try:
            out = self.store.export(path)
        except OSError as exc:
            self._say(f"Could not export: {exc}", _BAD_STYLE)
            return None
        data = base64.b64encode(out.read_bytes()).decode("ascii")
        self.export_link.value = (f"<a download='{html.escape(out.name)}' href='data:application/json;base64,"
                                  f"{data}'>Download {html.escape(out.name)}</a> (also saved as "
                                  f"<code>{html.escape(str(out))}</code>)")
        self._say(f"Exported your progress to {out}. Keep the file; import it next session to carry on.",
                  _OK_STYLE)
        return out

    def import_bytes(self, data, name: str = "the uploaded file") -> int | None:
        """Merge an exported progress file given as bytes; returns the number of new attempts."""
        try:
            text = bytes(data).decode("utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", _progress.ProgressWarning)
                n = self.store.import_text(text, source=name)
        except (UnicodeDecodeError, ValueError, OSError) as exc:
            msg = str(exc) if not isinstance(exc, UnicodeDecodeError) else f"{name} is not a text file"
            self._say(f"Nothing was imported: {msg}", _BAD_STYLE)
            return None
        self.refresh()
        self._say(f"Imported {n} new attempt{'s' if n != 1 else ''} from {name}; nothing was lost.", _OK_STYLE)
        return n

    def _on_upload(self, change):
        files = change["new"]
        if not files:
            return
        f = files[0]
        self.import_bytes(f["content"], f.get("name", "the uploaded file"))
        self.upload.value = ()  # ready for the next upload

    def request_reset(self) -> None:
        """The first step of Reset: show the confirmation row."""
        self.confirm_box.layout.display = "flex"
        self._say("")

    def cancel_reset(self) -> None:
        self.confirm_box.layout.display = "none"
        self._say("Reset cancelled: your progress is unchanged.")

    def confirm_reset(self):
        """The second step of Reset: erase the store (its old file is kept aside)."""
        self.confirm_box.layout.display = "none"
        try:
            aside = self.store.reset()
        except OSError as exc:
            self._say(f"Could not reset: {exc}", _BAD_STYLE)
            return None
        self.refresh()
        self._say("Progress reset." + (f" The old file was kept as {aside.name}." if aside else ""), _OK_STYLE)
        return aside

    @property
    def confirming(self) -> bool:
        return self.confirm_box.layout.display != "none"

    # --- display -------------------------------------------------------------------------------
    def _ipython_display_(self):
        from IPython.display import display

        display(self.ui)


__all__ = ["ProgressWidget"]
