"""Fixtures for the real-browser tests: a JupyterLab server on loopback and a headless Chromium.

The browser is Debian's ``chromium`` package, driven by Playwright through ``executable_path``
(Playwright's own browser download is not used). Without ``chromium`` on PATH or without the
``playwright`` package the tests in this folder are skipped with the reason, so ``make test``
works on a machine without them; with ``CCALAB_REQUIRE_BROWSER=1`` (as in CI) the same situation
is a failure instead. Set up: ``.ci/install-browser`` (Debian chromium), ``make test-browser``.

A test opens one of the demo notebooks through ``lab_notebook(path)`` (a :class:`LabNotebook`:
open it, Run All, find a widget's output, check that nothing on the page failed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = ROOT / "test-artifacts"

#: Chromium flags that work headless as root, without a display, with loopback network only.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SERVER_START_TIMEOUT = 60  # seconds until JupyterLab answers /api/status
KERNEL_TIMEOUT = 90_000  # ms from page open to an idle kernel (about 4 s here)
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


def _missing() -> list[str]:
    out = []
    if shutil.which("chromium") is None:
        out.append("Debian's `chromium` is not on PATH (install it with .ci/install-browser)")
    if importlib.util.find_spec("playwright") is None:
        out.append("the `playwright` package is not installed (pip install -e '.[test,browser]')")
    if importlib.util.find_spec("jupyterlab") is None:
        out.append("JupyterLab is not installed (pip install -e '.[test]')")
    return out


MISSING = _missing()
REQUIRED = os.environ.get("CCALAB_REQUIRE_BROWSER", "").strip() == "1"
REASON = "browser tests cannot run: " + "; ".join(MISSING) if MISSING else ""


def pytest_collection_modifyitems(config, items):
    if not MISSING or REQUIRED:
        return
    mark = pytest.mark.skip(reason=REASON + " (set CCALAB_REQUIRE_BROWSER=1 to make this a failure)")
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(mark)


@pytest.fixture(scope="session")
def browser_requirements():
    """Fails (CCALAB_REQUIRE_BROWSER=1) or skips when chromium / playwright / JupyterLab are missing."""
    if MISSING:
        if REQUIRED:
            pytest.fail(REASON + " (CCALAB_REQUIRE_BROWSER=1: they must run here)", pytrace=False)
        pytest.skip(REASON)


@pytest.fixture(scope="session", autouse=True)
def _warm_caches(browser_requirements):
    """Compile or load the numba kernels once, so the kernel in the browser starts warm."""
    subprocess.run([sys.executable, "-c", "import ccalab; ccalab.warmup()"], cwd=ROOT, check=True,
                   timeout=300)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# --- metrics ------------------------------------------------------------------------------------
_METRICS: dict = {}


@pytest.fixture(scope="session")
def metrics(artifacts):
    """A dict the tests fill; written to test-artifacts/browser-metrics.json at the end."""
    yield _METRICS
    if _METRICS:
        (artifacts / "browser-metrics.json").write_text(json.dumps(_METRICS, indent=2, sort_keys=True) + "\n")


def pytest_terminal_summary(terminalreporter):
    for key, what in (("time_to_first_widget_s", "time to first widget after run-all"),
                      ("rmm_slowest_click_to_effect_s", "RMM widgets, slowest click to its effect")):
        per_theme = _METRICS.get(key)
        if per_theme:
            parts = ", ".join(f"{theme} {sec:.2f} s" for theme, sec in sorted(per_theme.items()))
            terminalreporter.write_line(f"browser: {what}: {parts} (test-artifacts/browser-metrics.json)")


# --- JupyterLab ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(settings_dir: Path, theme: str) -> None:
    """User settings: no news or update checks, no autosave (the notebook on disk stays as it is),
    the notebook's own kernel started without a dialog, every cell rendered, the requested theme."""
    settings = {
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "apputils-extension/themes": {"theme": THEMES[theme], "adaptive-theme": False},
        "docmanager-extension/plugin": {"autosave": False},
        "notebook-extension/tracker": {"autoStartDefaultKernel": True, "windowingMode": "none"},
    }
    for name, values in settings.items():
        path = settings_dir / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


class Lab:
    """A running JupyterLab server: ``url(path)`` gives an authenticated address."""

    def __init__(self, theme: str, log_path: Path):
        self.theme = theme
        self.theme_name = THEMES[theme]
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._tmp = tempfile.TemporaryDirectory(prefix="ccalab-lab-")
        tmp = Path(self._tmp.name)
        for sub in ("config", "data", "runtime", "settings", "workspaces", "ipython"):
            (tmp / sub).mkdir()
        _write_settings(tmp / "settings", theme)
        env = dict(os.environ)
        env.pop("MPLBACKEND", None)  # the kernel's usual inline backend, as for a learner
        env.update({
            "JUPYTER_CONFIG_DIR": str(tmp / "config"),
            "JUPYTER_DATA_DIR": str(tmp / "data"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
            "IPYTHONDIR": str(tmp / "ipython"),
            "CCALAB_THEME": theme,  # the explorer's figure follows the page theme
            "PYTHONUNBUFFERED": "1",
        })
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={ROOT}",
            f"--LabApp.user_settings_dir={tmp / 'settings'}",
            f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: commands and kernel status
            "--LabApp.news_url=None",
            "--LabApp.extension_manager=readonly",  # no PyPI look-ups
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI containers run as root
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with opener.open(self.url("api/status"), timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"jupyter lab did not answer within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the server and the kernels it started
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
        self._tmp.cleanup()


@pytest.fixture(scope="session", params=list(THEMES), ids=lambda t: f"{t}-theme")
def lab(request, browser_requirements, artifacts):
    """A JupyterLab server in the requested theme, stopped at the end whatever happens."""
    server = Lab(request.param, artifacts / f"jupyterlab-{request.param}.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


# --- Chromium -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser(browser_requirements):
    """Headless Debian chromium, driven by Playwright; closed at the end whatever happens."""
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


_CONSOLE_LOGS: set = set()  # the console logs written in this session (the first write truncates)


@pytest.fixture
def page(request, browser, lab, artifacts):
    """A fresh browser context and page for one test (tall viewport: the whole explorer fits).

    The page's console messages and errors go to test-artifacts/browser-console-<theme>.log, one
    section per test.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 2000}, device_scale_factor=1,
                                  color_scheme="dark" if lab.theme == "dark" else "light")
    context.set_default_timeout(30_000)
    console = []
    try:
        pg = context.new_page()
        pg.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        pg.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        yield pg
    finally:
        context.close()
        log = artifacts / f"browser-console-{lab.theme}.log"
        with open(log, "a" if log in _CONSOLE_LOGS else "w") as f:
            f.write(f"=== {request.node.name}\n" + "".join(line + "\n" for line in console))
        _CONSOLE_LOGS.add(log)


# --- a notebook in the page ---------------------------------------------------------------------
# The notebook's panel, found through the app JupyterLab exposes (--LabApp.expose_app_in_browser).
_PANEL_JS = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.sessionContext) return w;
  }
  return null;
}
"""

KERNEL_IDLE_JS = f"""
(path) => {{
  const w = ({_PANEL_JS})(path);
  if (!w || !w.context.isReady) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}}
"""

PANEL_ID_JS = f"""
(path) => {{
  const w = ({_PANEL_JS})(path);
  return w ? w.id : null;
}}
"""

ALL_CELLS_RUN_JS = f"""
(path) => {{
  const w = ({_PANEL_JS})(path);
  if (!w) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  return cells.length > 0 && cells.every(c => c.model.executionCount !== null && c.model.executionCount > 0);
}}
"""

RUN_ALL_JS = f"""
(path) => {{
  const w = ({_PANEL_JS})(path);
  if (!w) throw new Error('the notebook panel is not open');
  window.__ccalabRunAll = 'running';
  // run this notebook (semanticWidget names it, rather than whichever panel has the focus);
  // not awaited: the test watches the page while the cells run
  window.jupyterapp.commands.execute('notebook:run-all-cells', {{semanticWidget: w.id}}).then(
    (ok) => {{ window.__ccalabRunAll = 'done: ' + ok; }},
    (err) => {{ window.__ccalabRunAll = 'error: ' + err; }});
  return true;
}}
"""

#: Texts on the page that mean a widget (or a cell) failed.
BROKEN_WIDGET_TEXTS = ("Error displaying widget", "model not found", "Traceback")


class LabNotebook:
    """One notebook of the repository, opened in JupyterLab in a page, as a learner sees it.

    ``path`` is relative to the server's root (the repository). :meth:`open` loads it and waits for
    its kernel; :meth:`run_all` runs every cell as "Run All" does; :attr:`cells` is the notebook's
    content in the page; :meth:`output` finds the output area of a widget by a text it shows.
    """

    BROKEN_WIDGET_TEXTS = BROKEN_WIDGET_TEXTS

    def __init__(self, lab: Lab, page, path: str):
        self.lab, self.page, self.path = lab, page, path
        self.file = ROOT / path
        self._panel_id = None

    def open(self, timeout: float = KERNEL_TIMEOUT) -> float:
        """Open the notebook in the lab's theme and wait until its kernel is idle, with no dialog in
        the way. Returns the seconds from opening the page to the idle kernel."""
        from playwright.sync_api import expect

        t = time.monotonic()
        self.page.goto(self.lab.url(f"lab/tree/{self.path}"), wait_until="domcontentloaded")
        self.page.wait_for_function(KERNEL_IDLE_JS, arg=self.path, timeout=timeout)
        seconds = time.monotonic() - t
        self._panel_id = self.page.evaluate(PANEL_ID_JS, self.path)
        expect(self.page.locator("body")).to_have_attribute("data-jp-theme-name", self.lab.theme_name)
        expect(self.page.locator(".jp-Dialog"), "a dialog (kernel choice?) is in the way").to_have_count(0)
        expect(self.cells).to_be_visible()
        return seconds

    @property
    def cells(self):
        """The notebook's content (its ``.jp-Notebook``) in this notebook's own panel."""
        if self._panel_id is None:
            raise RuntimeError("open() the notebook first")
        return self.page.locator(f'.jp-NotebookPanel[id="{self._panel_id}"] .jp-Notebook')

    def run_all(self) -> None:
        """Start "Run All" on this notebook (returns at once; the cells run in the background)."""
        self.page.evaluate(RUN_ALL_JS, self.path)

    def wait_all_cells_run(self, timeout: float) -> None:
        """Wait until every code cell has an execution count and the kernel is idle again."""
        self.page.wait_for_function(ALL_CELLS_RUN_JS, arg=self.path, timeout=timeout)

    def run_all_state(self):
        """What the "Run All" command reported: 'running', 'done: ...', 'error: ...' (or None)."""
        return self.page.evaluate("() => window.__ccalabRunAll")

    def output(self, text: str):
        """The output area of the widget that shows ``text`` (e.g. its title)."""
        return self.cells.locator(".jp-OutputArea-output").filter(has=self.page.locator(".widget-button")).filter(
            has_text=text)

    def assert_not_broken(self, when: str = "") -> None:
        """No text on the notebook says a widget or a cell failed."""
        text = self.cells.inner_text()
        for bad in BROKEN_WIDGET_TEXTS:
            assert bad not in text, f"the notebook shows {bad!r}{when}:\n{text[-2000:]}"

    @staticmethod
    def button(widget, label: str):
        """The button of ``widget`` labelled exactly ``label`` (an icon may precede it: "Reset" is
        " Reset"; "Delegate" must not match "Undelegate")."""
        return widget.get_by_role("button", name=re.compile(rf"^\W*{re.escape(label)}$"))


@pytest.fixture
def lab_notebook(lab, page):
    """``lab_notebook(path)``: a :class:`LabNotebook` for ``path`` (relative to the repository) in
    this test's page and server; the test opens it (``.open()``)."""
    return lambda path: LabNotebook(lab, page, path)
