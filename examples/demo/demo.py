"""The demo: a fake SaaS settings page with the Meshes embed, on the real doubles.

    python examples/demo/demo.py                  # serve; open the printed URL; Ctrl-C stops
    python examples/demo/demo.py --check          # one headless Chromium pass, exit 0 / 1
    python examples/demo/demo.py --check --runtime pyodide

It builds the asset tree with ``python -m meshes_bridge static DIR`` (as a host would),
starts the HOST origin (default port 8000: the product's own server half, as the browser
tests run it) and the fake Meshes' EMBED (8001) and HOSTILE (8002) origins, registers "Acme CRM -
Integrations" at ``/`` (MicroPython; ``/?runtime=pyodide`` for Pyodide), then streams the
doubles' transcript (tokens redacted) until Ctrl-C. ``--check`` instead drives headless
Chromium through mint, ready, auth, resize, navigate and a refresh, saves a screenshot and
prints which step failed, if any.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType

# The demo runs from a checkout: its host origin is the one the browser tests use (the
# product's own server half, tests/host), so the repository root must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from meshes_bridge.testing.chromium import SYSTEM_CHROMIUM, SYSTEM_CHROMIUM_ARGS  # noqa: E402
from tests.host.pages import page_html  # noqa: E402
from tests.host.servers import HostServers, start_host_servers  # noqa: E402

RUNTIMES = ("micropython", "pyodide")

BOOT_TIMEOUT_S = {"micropython": 60.0, "pyodide": 180.0}
STEP_TIMEOUT_S = 20.0
MIN_HEIGHT = 480
HOOKS_PATH = "/hooks/demo_hooks.py"
STYLE_PATH = "/assets/acme.css"  # a stylesheet file: the policy allows no inline style
CONTAINER = "#integrations-embed"

# The host's Python hooks (data-hooks): plain DOM updates, no JavaScript written.
DEMO_HOOKS = '''\
"""Acme CRM's hooks for the Meshes embed (runs in the browser, under PyScript)."""

import js


def _set_text(element_id, text):
    element = js.document.getElementById(element_id)
    if element:
        element.textContent = text


def _title(page):
    page = str(page)
    return page[:1].upper() + page[1:]


def on_ready(embed):
    _set_text("embed-note", "Connected to Meshes")


def on_navigate(embed, detail):
    page = _title(detail.get("page", ""))
    _set_text("crumb-page", page)
    js.document.title = "Integrations: " + page + " - Acme CRM"


def on_resize(embed, height):
    _set_text("embed-height", str(height) + " px")


def on_token_expired(embed):
    _set_text("embed-note", "Session expired: reconnecting")


def on_error(embed, code, message):
    _set_text("embed-note", "Integrations are unavailable (" + str(code) + ")")
'''

DEMO_STYLE = """
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
         color: #1d2333; background: #eef1f6; }
  .topbar { display: flex; align-items: center; gap: 16px; height: 52px; padding: 0 24px;
            background: #14213d; color: #fff; }
  .topbar .brand { font-weight: 700; font-size: 17px; letter-spacing: .2px; }
  .topbar .brand span { color: #fca311; }
  .topbar .search { flex: 1; max-width: 420px; height: 30px; border-radius: 6px;
                    background: #24345a; color: #a9b4cc; padding: 5px 12px; font-size: 13px; }
  .topbar .user { margin-left: auto; display: flex; align-items: center; gap: 8px; }
  .topbar .avatar { width: 30px; height: 30px; border-radius: 50%; background: #fca311;
                    color: #14213d; display: grid; place-items: center; font-weight: 700; }
  .layout { display: flex; min-height: calc(100vh - 52px); }
  aside { width: 220px; padding: 20px 12px; background: #fff; border-right: 1px solid #dde2ec; }
  aside h4 { margin: 16px 12px 6px; font-size: 11px; text-transform: uppercase;
             color: #8a93a8; letter-spacing: .6px; }
  aside a { display: block; padding: 7px 12px; border-radius: 6px; color: #3b4459;
            text-decoration: none; }
  aside a.active { background: #e9eefb; color: #1f4bd8; font-weight: 600; }
  main { flex: 1; padding: 24px 32px 48px; max-width: 1120px; }
  .crumbs { color: #8a93a8; font-size: 13px; }
  .crumbs b { color: #3b4459; font-weight: 600; }
  h1 { margin: 6px 0 4px; font-size: 24px; }
  .lead { margin: 0 0 20px; color: #5a6378; max-width: 720px; }
  .card { background: #fff; border: 1px solid #dde2ec; border-radius: 10px; overflow: hidden; }
  .card-head { display: flex; align-items: center; gap: 12px; padding: 12px 18px;
               border-bottom: 1px solid #eef1f6; }
  .card-head h2 { margin: 0; font-size: 15px; }
  .pill { font-size: 12px; padding: 2px 8px; border-radius: 999px; background: #eef1f6;
          color: #5a6378; }
  .card-head .meta { margin-left: auto; font-size: 12px; color: #8a93a8; }
  .runtime a { color: #1f4bd8; }
  [data-meshes-embed] { min-height: 480px; background: #f6f7fb; }
  [data-meshes-embed]:not([data-state="authenticated"]) { display: grid; place-items: center; }
  [data-meshes-embed][data-state="booting"]::before,
  [data-meshes-embed][data-state="minting"]::before { content: "Loading integrations…";
                                                    color: #8a93a8; }
  footer { margin-top: 16px; color: #8a93a8; font-size: 12px; }
"""


def demo_page(runtime: str, embed_url: str, use_hooks: bool = True) -> str:
    """The "Acme CRM - Integrations" page: one embed container and the loader tag."""
    other = "pyodide" if runtime == "micropython" else "micropython"
    label = {"micropython": "MicroPython", "pyodide": "Pyodide"}
    body = f"""
<div class="topbar">
  <div class="brand">Acme<span>CRM</span></div>
  <div class="search">Search contacts, deals, companies…</div>
  <div class="user"><span>Dana Whitaker</span><div class="avatar">DW</div></div>
</div>
<div class="layout">
  <aside>
    <a href="#">Dashboard</a><a href="#">Contacts</a><a href="#">Companies</a>
    <a href="#">Deals</a><a href="#">Reports</a>
    <h4>Settings</h4>
    <a href="#">General</a><a href="#">Team &amp; roles</a><a href="#">Billing</a>
    <a href="/" class="active">Integrations</a><a href="#">API keys</a>
  </aside>
  <main>
    <div class="crumbs">Settings / Integrations / <b id="crumb-page">Dashboard</b></div>
    <h1>Integrations</h1>
    <p class="lead">Connect Acme CRM to the tools your team already uses. Events from your
      CRM are delivered by Meshes; manage connections and routing rules below.</p>
    <div class="card">
      <div class="card-head">
        <h2>Event routing</h2><span class="pill" id="embed-note">Powered by Meshes</span>
        <span class="meta">embed height <span id="embed-height">-</span> ·
          <span class="runtime">runtime {label[runtime]}
          (<a href="/?runtime={other}">switch to {label[other]}</a>)</span></span>
      </div>
      EMBED
    </div>
    <footer>The embed above is the Meshes stub on {embed_url}; this page wrote no
      JavaScript: one &lt;div&gt; and one &lt;script&gt; tag.</footer>
  </main>
</div>
"""
    head = f'<link rel="stylesheet" href="{STYLE_PATH}">\n'
    script_attrs: dict[str, str] = {"data-hooks": HOOKS_PATH} if use_hooks else {}
    html = page_html(
        runtime=runtime,
        container_attrs={"id": "integrations-embed"},
        script_attrs=script_attrs,
        title="Integrations - Acme CRM",
        head=head,
        extra_body="",
    )
    # Move the container into the card: page_html puts it first in <body>.
    start = html.index("<div data-meshes-embed")
    end = html.index("</div>", start) + len("</div>")
    container = html[start:end]
    return html[:start] + body.replace("EMBED", container) + html[end:]


def recommended_csp(embed_url: str) -> str:
    """The Content-Security-Policy the README recommends, with the demo's embed origin:
    no 'unsafe-eval', no 'unsafe-inline' for scripts or styles."""
    return (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
        f"frame-src {embed_url}; object-src 'none'; base-uri 'none'"
    )


def register_demo(servers: HostServers, default_runtime: str, csp: bool = True) -> str:
    """Serve the demo page at ``/`` (``?runtime=`` picks the interpreter); its URL."""

    def render(query: Mapping[str, str]) -> str:
        runtime = query.get("runtime", default_runtime)
        if runtime not in RUNTIMES:
            runtime = default_runtime
        return demo_page(runtime, servers.embed_url)

    servers.backend.add_file(HOOKS_PATH, DEMO_HOOKS)
    servers.backend.add_file(STYLE_PATH, DEMO_STYLE, "text/css")
    return servers.backend.add_page(
        "/", render, csp=recommended_csp(servers.embed_url) if csp else None
    )


def build_static(target: Path) -> None:
    """``python -m meshes_bridge static <target>``, as a host builds the tree; raises on failure."""
    result = subprocess.run(
        [sys.executable, "-m", "meshes_bridge", "static", str(target), "-q"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise RuntimeError(
            f"`python -m meshes_bridge static` failed ({result.returncode}): {detail}"
        )


# -- serving ----------------------------------------------------------------------------


def stream(servers: HostServers, out: Callable[[str], None] = print) -> None:
    """Print transcript lines as they come, until Ctrl-C."""
    seen = 0
    while True:
        for entry in servers.transcript.wait_new(seen, timeout=0.5):
            out(str(entry))
            seen = entry.index + 1


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


# -- the check --------------------------------------------------------------------------


class StepFailed(Exception):
    """A check step did not happen; the message says what was missing."""


def run_check(servers: HostServers, runtime: str, screenshot: Path) -> int:
    """Drive headless Chromium through one full pass; 0 when every step happened."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import Frame, Page, sync_playwright

    console: list[str] = []
    results: list[tuple[str, bool, str]] = []
    transcript = servers.transcript
    boot_timeout = BOOT_TIMEOUT_S[runtime]
    url = servers.url("/" if runtime == "micropython" else "/?runtime=pyodide")

    def step(name: str, action: Callable[[], str]) -> None:
        started = time.monotonic()
        try:
            note = action()
        except (StepFailed, TimeoutError, PlaywrightError, AssertionError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            results.append((name, False, f"{type(error).__name__}: {first_line}"))
            print(f"  FAIL  {name}: {first_line}", flush=True)
            raise StepFailed(name) from error
        took = time.monotonic() - started
        results.append((name, True, note))
        print(f"  ok    {name} ({took:.2f} s){': ' + note if note else ''}", flush=True)

    def wait_height(page: Page, frame: Frame) -> str:
        last = frame.evaluate("window.stub.status().last_resize")
        if not isinstance(last, int | float):
            raise StepFailed("the embed posted no meshes:resize")
        expected = f"{max(MIN_HEIGHT, int(last))}px"
        page.wait_for_function(
            "([sel, h]) => document.querySelector(sel + ' iframe').style.height === h",
            arg=[CONTAINER, expected],
            timeout=STEP_TIMEOUT_S * 1000,
        )
        return f"iframe height {expected} (content {last}px, min {MIN_HEIGHT})"

    print(f"check: {url} on {runtime}", flush=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=SYSTEM_CHROMIUM, args=SYSTEM_CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        page.add_init_script(
            "window.__navigates = [];"
            "document.addEventListener('meshes-bridge:navigate',"
            " e => window.__navigates.push(e.detail));"
            "window.__cspViolations = [];"
            "document.addEventListener('securitypolicyviolation', e =>"
            " window.__cspViolations.push(e.effectiveDirective + ' ' + e.blockedURI"
            " + ' at ' + e.sourceFile + ':' + e.lineNumber + ':' + e.columnNumber));"
        )
        frame_box: list[Frame] = []

        def frame() -> Frame:
            return frame_box[0]

        def open_page() -> str:
            page.goto(url)
            page.wait_for_selector(CONTAINER, state="attached", timeout=STEP_TIMEOUT_S * 1000)
            return url

        def authenticated() -> str:
            page.wait_for_selector(
                f'{CONTAINER}[data-state="authenticated"]', timeout=boot_timeout * 1000
            )
            transcript.wait_for("token #1 valid", timeout=STEP_TIMEOUT_S)
            handle = page.wait_for_selector(f"{CONTAINER} iframe", timeout=STEP_TIMEOUT_S * 1000)
            content = handle.content_frame() if handle else None
            if content is None:
                raise StepFailed("the container has no iframe")
            content.wait_for_function(
                "() => window.stub && window.stub.status().authenticated",
                timeout=STEP_TIMEOUT_S * 1000,
            )
            frame_box.append(content)
            return "data-state=authenticated, the embed holds a valid token"

        def resized() -> str:
            return wait_height(page, frame())

        def navigate() -> str:
            mark = transcript.mark()
            frame().click('nav a[data-page="connections"]')
            transcript.wait_for("navigate page=connections", timeout=STEP_TIMEOUT_S, after=mark)
            page.wait_for_function(
                "() => window.__navigates.some(d => d && d.page === 'connections')",
                timeout=STEP_TIMEOUT_S * 1000,
            )
            return "meshes-bridge:navigate {page: connections}; " + wait_height(page, frame())

        def hooks_ran() -> str:
            page.wait_for_function(
                "() => document.getElementById('crumb-page').textContent === 'Connections'",
                timeout=STEP_TIMEOUT_S * 1000,
            )
            return "on_navigate updated the breadcrumb"

        def refresh() -> str:
            mark = transcript.mark()
            frame().evaluate("window.stub.askRefresh()")
            transcript.wait_for("refreshed session", timeout=STEP_TIMEOUT_S, after=mark)
            transcript.wait_for("token #2 valid", timeout=STEP_TIMEOUT_S, after=mark)
            page.wait_for_selector(
                f'{CONTAINER}[data-state="authenticated"]', timeout=STEP_TIMEOUT_S * 1000
            )
            calls = len(servers.backend.calls("refresh"))
            if calls != 1:
                raise StepFailed(f"expected one refresh request, saw {calls}")
            return "one refresh request, the embed got token #2"

        def no_leak() -> str:
            tokens = [t for t in servers.fake.issued_tokens() if t.startswith("mat_")]
            storage = page.evaluate(
                "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
            )
            haystacks = {
                "host DOM": page.content(),
                "embed DOM": frame().content(),
                "URLs": page.url + " " + frame().url,
                "console": "\n".join(console),
                "storage": storage,
                "transcript": transcript.text(),
            }
            for where, text in haystacks.items():
                if any(token in text for token in tokens):
                    raise StepFailed(f"an access token appears in the {where}")
            return f"{len(tokens)} access tokens, none in DOM, URL, storage, console, transcript"

        def no_csp_violation() -> str:
            seen = page.evaluate("window.__cspViolations")
            if seen:
                raise StepFailed(f"{len(seen)} CSP violation(s): {'; '.join(seen)}")
            return "no securitypolicyviolation event on the page"

        def screenshot_step() -> str:
            page.screenshot(path=str(screenshot), full_page=True)
            return str(screenshot)

        steps: Sequence[tuple[str, Callable[[], str]]] = (
            ("open the page", open_page),
            ("mint, mount, ready, auth", authenticated),
            ("resize applied", resized),
            ("navigate inside the embed", navigate),
            ("host hook ran", hooks_ran),
            ("refresh", refresh),
            ("no token leaked", no_leak),
            ("no CSP violation", no_csp_violation),
            ("screenshot", screenshot_step),
        )
        try:
            for name, action in steps:
                step(name, action)
        except StepFailed:
            try:
                page.screenshot(path=str(screenshot), full_page=True)
                print(f"  (screenshot of the failure: {screenshot})")
            except PlaywrightError:
                pass
        finally:
            browser.close()

    print("\ntranscript:")
    print(transcript.text())
    failed = [r for r in results if not r[1]]
    if failed or len(results) != len(steps):
        name, _, why = failed[0] if failed else ("?", False, "not run")
        print(f"\nCHECK FAILED at step '{name}': {why}")
        errors = [line for line in console if line.startswith(("error", "pageerror"))]
        if errors:
            print("browser console errors:\n  " + "\n  ".join(errors[-20:]))
        return 1
    print(f"\nCHECK PASSED: {len(results)} steps on {runtime}; screenshot: {screenshot}")
    return 0


# -- command line -----------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python examples/demo/demo.py",
        description="Serve the meshes-bridge demo page on the test doubles.",
    )
    parser.add_argument("--check", action="store_true", help="one headless pass; exit 0 or 1")
    parser.add_argument("--runtime", choices=RUNTIMES, default="micropython")
    parser.add_argument("--port", type=int, default=8000, help="HOST origin port (8000)")
    parser.add_argument("--embed-port", type=int, default=None, help="EMBED port (port+1)")
    parser.add_argument("--hostile-port", type=int, default=None, help="HOSTILE port (port+2)")
    parser.add_argument("--static", type=Path, default=None, help="use this built asset tree")
    parser.add_argument("--no-csp", action="store_true", help="serve the page without a CSP")
    parser.add_argument(
        "--screenshot", type=Path, default=Path("demo-screenshot.png"), help="--check's output"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ports = (
        args.port,
        args.embed_port if args.embed_port is not None else (args.port + 1 if args.port else 0),
        args.hostile_port if args.hostile_port is not None else (args.port + 2 if args.port else 0),
    )
    workdir: Path | None = None
    try:
        static = args.static
        if static is None:
            workdir = Path(tempfile.mkdtemp(prefix="meshes-demo-"))
            static = workdir / "meshes-bridge"
            print(f"building the asset tree: python -m meshes_bridge static {static}", flush=True)
            try:
                build_static(static)
            except RuntimeError as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
        try:
            servers = start_host_servers(static, (*ports, 0))
        except OSError as error:
            print(f"error: {error} (choose other ports with --port)", file=sys.stderr)
            return 1
        with servers:
            page = register_demo(servers, args.runtime, csp=not args.no_csp)
            print(f"HOST    {servers.host_url}\nEMBED   {servers.embed_url}")
            print(f"HOSTILE {servers.hostile_url}", flush=True)
            if args.check:
                return run_check(servers, args.runtime, args.screenshot.resolve())
            other = "pyodide" if args.runtime == "micropython" else "micropython"
            print(f"\nOpen {page}  ({args.runtime}; {page}?runtime={other} for {other})")
            print("Live transcript (tokens redacted), Ctrl-C to stop:\n", flush=True)
            signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly under `timeout`, CI
            try:
                stream(servers)
            except KeyboardInterrupt:
                print("\nstopping")
            return 0
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
