"""The host team's app, running on a loopback port for browser tests: from a command line
(its own real server, a child process), or a WSGI / ASGI app served in a thread.

A command is the closest to production (Django's runserver, gunicorn, the app's own
``serve.py``); a factory starts faster and lets the test reach the app's objects. Either
way the result is a :class:`RunningApp` whose origin is known *before* the app is built:
the port is chosen (or the socket bound) first, so ``MESHES_ALLOWED_ORIGINS`` can name
it. Every start waits for the port to answer (bounded, never a fixed sleep) and fails
with one line (:class:`ProcessStartError`); ``stop()`` leaves no process, thread or
listening socket behind.

Only the standard library is imported at module level; uvicorn and Django are imported
when an ASGI app, or a Django WSGI app, is served.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shlex
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from meshes_bridge.testing.processes import (
    LOOPBACK,
    AppProcess,
    OnLoopback,
    ProcessStartError,
    free_port,
    port_open,
)

START_TIMEOUT = 60.0  # Django's runserver migrates its database first
STOP_TIMEOUT = 10.0
PYTHON_NAMES = ("python", "python3")
UVICORN_MISSING = 'uvicorn is not installed: pip install uvicorn (or "meshes-bridge[testing]")'


class _Log:
    """A thread-safe text buffer: the in-process app's "output" (request lines, tracebacks
    and log records), as a child process's stdout would be."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        """File-like: nothing is buffered."""

    def text(self) -> str:
        with self._lock:
            return "".join(self._parts)


class RunningApp(OnLoopback):
    """The host app under test, listening on ``http://127.0.0.1:PORT``.

    ``url`` and ``origin`` (the same string: no path), ``port``, ``kind`` (``"command"``,
    ``"wsgi"`` or ``"asgi"``), ``output()`` (what it printed or logged so far) and
    ``stop()`` (idempotent; the ``meshes_app`` fixture calls it at the end of the session).
    """

    def __init__(
        self, port: int, kind: str, output: Callable[[], str], stop: Callable[[], None]
    ) -> None:
        self.port = port
        self.kind = kind
        self._output = output
        self._stop = stop
        self._stopped = False

    def output(self) -> str:
        """The app's log so far (stdout and stderr of a command; request lines,
        tracebacks and log records of an in-process app)."""
        return self._output()

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._stop()

    def __repr__(self) -> str:
        return f"RunningApp({self.kind}, {self.url})"


def _check_port_free(port: int) -> None:
    if port and port_open(port):
        raise ProcessStartError(
            f"port {port} is taken (something listens on {LOOPBACK}:{port}): stop it, or "
            "let meshes_app_port return 0 for a free port"
        )


def command_argv(command: Sequence[str] | str) -> list[str]:
    """The argv of `command` (a list, or a string split as a shell would); a leading
    ``python``/``python3`` becomes the interpreter running pytest, so the app sees the
    same virtualenv even when it is not activated."""
    argv = shlex.split(command) if isinstance(command, str) else [str(part) for part in command]
    if not argv:
        raise ProcessStartError("meshes_app_command is empty: give the argv that starts your app")
    if not any("{port}" in part for part in argv):
        raise ProcessStartError(
            f"meshes_app_command has no {{port}}: {' '.join(argv)!r} must listen on the port "
            'the kit chooses, e.g. [..., "--port", "{port}"]'
        )
    if argv[0] in PYTHON_NAMES:
        argv[0] = sys.executable
    return argv


def setup_argv(command: Sequence[str] | str) -> list[str]:
    """The argv of one ``meshes_app_setup`` command: as :func:`command_argv`, no port."""
    argv = shlex.split(command) if isinstance(command, str) else [str(part) for part in command]
    if not argv:
        raise ProcessStartError("meshes_app_setup holds an empty command")
    if argv[0] in PYTHON_NAMES:
        argv[0] = sys.executable
    return argv


def run_setup(
    commands: Sequence[Sequence[str] | str],
    env: Mapping[str, str],
    timeout: float = START_TIMEOUT,
) -> None:
    """Run each of `commands` to completion, in order, with `env` added to this process's
    environment (the app's own, so a migration reaches the database the app will use);
    the first that fails or outlives `timeout` stops the start with one line."""
    for command in commands:
        argv = setup_argv(command)
        shown = " ".join(["python", *argv[1:]] if argv[0] == sys.executable else argv)
        try:
            done = subprocess.run(
                argv,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise ProcessStartError(
                f"setup command {shown!r} did not finish within {timeout:.0f} s"
            ) from None
        except OSError as error:
            raise ProcessStartError(f"setup command {shown!r}: {error.strerror}") from None
        if done.returncode != 0:
            lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
            raise ProcessStartError(
                f"setup command {shown!r} exited with code {done.returncode}: "
                + (lines[-1] if lines else "(no output)")
            )


def start_command(
    command: Sequence[str] | str,
    env: Mapping[str, str],
    port: int = 0,
    start_timeout: float = START_TIMEOUT,
) -> RunningApp:
    """Start `command` (``{port}`` replaced) with `env` added to this process's
    environment and ``MESHES_ALLOWED_ORIGINS`` set to its origin unless `env` has it;
    wait until it listens. Its whole process group is stopped by ``stop()``."""
    argv = command_argv(command)
    _check_port_free(port)
    process = AppProcess(argv, port=port or free_port(), start_timeout=start_timeout)
    process.env.update({"MESHES_ALLOWED_ORIGINS": process.origin, **env})
    process.start()  # on failure it has stopped the process; its log stays for the message
    return RunningApp(process.port, "command", process.output, process.cleanup)


def _set_environ(values: Mapping[str, str]) -> Callable[[], None]:
    """Put `values` into os.environ (an in-process app reads its configuration there);
    returns the function that puts the previous values back."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)

    def restore() -> None:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    return restore


def _listen_error(port: int, error: OSError) -> ProcessStartError:
    return ProcessStartError(
        f"cannot listen on {LOOPBACK}:{port}: {error.strerror}; stop what uses it, or let "
        "meshes_app_port return 0 for a free port"
    )


class _LogCapture(logging.Handler):
    """Log records while the app runs, into its output; the bridge's own INFO lines
    (mint, refresh refused, revoke) included, as a command's basicConfig would show."""

    LOUD_LOGGERS = ("meshes_bridge", "uvicorn")

    def __init__(self, log: _Log) -> None:
        super().__init__(logging.INFO)
        self.log = log
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self._levels: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.log.write(self.format(record) + "\n")
        except Exception:  # a logging handler must never raise into the app
            self.handleError(record)

    def install(self) -> None:
        logging.getLogger().addHandler(self)
        for name in self.LOUD_LOGGERS:
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET and logger.getEffectiveLevel() > logging.INFO:
                self._levels[name] = logger.level
                logger.setLevel(logging.INFO)

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        self._levels.clear()


# -- WSGI ---------------------------------------------------------------------------------


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request (a page loads its assets in parallel)."""

    daemon_threads = True  # a request still hanging at the end must not block stop()


def _handler_class(log: _Log) -> type[WSGIRequestHandler]:
    class Handler(WSGIRequestHandler):
        """Request lines and tracebacks go to the app's output, not pytest's stderr."""

        def log_message(self, format: str, *args: Any) -> None:
            log.write(f"{self.address_string()} - {format % args}\n")

        def get_stderr(self) -> Any:
            return log

    return Handler


def _maybe_serve_static(app: Any) -> Any:
    """Django's WSGIHandler does not serve static files (runserver and LiveServerTestCase
    add a handler for that): wrap it the same way, so the asset tree is served."""
    django_wsgi = sys.modules.get("django.core.handlers.wsgi")
    if django_wsgi is None or not isinstance(app, django_wsgi.WSGIHandler):
        return app
    from django.apps import apps

    if not apps.is_installed("django.contrib.staticfiles"):
        return app
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    return StaticFilesHandler(app)


def _wait_started(
    started: Callable[[], bool], thread: threading.Thread, timeout: float, what: str, log: _Log
) -> None:
    """Wait (bounded, polling a condition) until `started()`; the thread ending first
    means the server failed: its last output line is the error."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not started():
        if not thread.is_alive():
            lines = log.text().strip().splitlines()
            raise ProcessStartError(
                f"{what} stopped before serving: {lines[-1] if lines else '(no output)'}"
            )
        if time.monotonic() > deadline:
            raise ProcessStartError(f"{what} did not start serving within {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def serve_wsgi(
    factory: Callable[[], Any],
    env: Mapping[str, str],
    port: int = 0,
    start_timeout: float = START_TIMEOUT,
) -> RunningApp:
    """Listen on the port, put `env` (+ ``MESHES_ALLOWED_ORIGINS`` = the origin, unless
    given) into os.environ, call `factory()` and serve its WSGI app with wsgiref in a
    thread. ``stop()`` shuts the server down and restores os.environ. Exceptions from
    `factory` propagate unchanged (the caller reports them)."""
    _check_port_free(port)
    log = _Log()
    try:
        server = _ThreadingWSGIServer((LOOPBACK, port), _handler_class(log))
    except OSError as error:
        raise _listen_error(port, error) from None
    port = server.server_port
    restore = _set_environ({"MESHES_ALLOWED_ORIGINS": f"http://{LOOPBACK}:{port}", **env})
    try:
        server.set_app(_maybe_serve_static(factory()))
    except BaseException:
        server.server_close()
        restore()
        raise
    capture = _LogCapture(log)
    capture.install()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"meshes-wsgi-{port}"
    )
    thread.daemon = True
    thread.start()

    def stop() -> None:
        server.shutdown()  # returns once serve_forever has returned
        thread.join(timeout=STOP_TIMEOUT)
        server.server_close()
        capture.uninstall()
        restore()

    try:
        _wait_started(lambda: port_open(port), thread, start_timeout, "the WSGI app", log)
    except BaseException:
        stop()
        raise
    return RunningApp(port, "wsgi", log.text, stop)


# -- ASGI ---------------------------------------------------------------------------------


def serve_asgi(
    factory: Callable[[], Any],
    env: Mapping[str, str],
    port: int = 0,
    start_timeout: float = START_TIMEOUT,
) -> RunningApp:
    """As :func:`serve_wsgi`, for an ASGI app under uvicorn (its own event loop in a
    thread, lifespan events run). ``stop()`` lets uvicorn shut down gracefully (bounded),
    then forces it."""
    if importlib.util.find_spec("uvicorn") is None:
        raise ProcessStartError(UVICORN_MISSING)
    _check_port_free(port)
    try:
        sock = socket.create_server((LOOPBACK, port))
    except OSError as error:
        raise _listen_error(port, error) from None
    port = sock.getsockname()[1]
    restore = _set_environ({"MESHES_ALLOWED_ORIGINS": f"http://{LOOPBACK}:{port}", **env})
    try:
        app = factory()
    except BaseException:
        sock.close()
        restore()
        raise
    return serve_asgi_app(app, sock, start_timeout=start_timeout, on_stop=restore)


def serve_asgi_app(
    app: Any,
    sock: socket.socket,
    *,
    start_timeout: float = START_TIMEOUT,
    on_stop: Callable[[], None] | None = None,
) -> RunningApp:
    """Serve an ASGI app already built on a listening socket, under uvicorn (its own event
    loop in a thread, lifespan events run). ``stop()`` lets uvicorn shut down gracefully
    (bounded), then forces it, closes the socket and calls `on_stop`."""
    try:
        import uvicorn
    except ImportError:
        sock.close()
        raise ProcessStartError(UVICORN_MISSING) from None
    port = sock.getsockname()[1]
    # Kept-alive connections otherwise wait 40 ms a response (doubles.servers.bind says why).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    log = _Log()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,  # pytest owns logging; records reach the app's output below
            timeout_graceful_shutdown=3,
            lifespan="auto",
        )
    )
    capture = _LogCapture(log)
    capture.install()

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as error:  # SystemExit from a failed lifespan startup, too
            log.write(f"uvicorn stopped: {error!r}\n")

    thread = threading.Thread(target=serve, name=f"meshes-asgi-{port}", daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=STOP_TIMEOUT)
        sock.close()
        capture.uninstall()
        if on_stop is not None:
            on_stop()

    try:
        _wait_started(lambda: server.started, thread, start_timeout, "the ASGI app", log)
    except BaseException:
        stop()
        raise
    return RunningApp(port, "asgi", log.text, stop)
