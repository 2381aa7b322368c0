"""Real processes for tests: a private redis-server (or Redis Cluster) and a host app under
its real server.

Both start on a free loopback port, wait until the port answers (never a fixed sleep),
fail with one line saying what went wrong and how to fix it, and are stopped (the whole
process group) when their `with` block ends, also when the test failed.

    with RedisServer() as redis:                     # redis.url = redis://127.0.0.1:PORT/0
        with AppProcess([sys.executable, "examples/flask/serve.py", "--port", "{port}"],
                        env={"MESHES_BRIDGE_REDIS_URL": redis.url}) as app:
            httpx.get(app.url + "/login")
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"
DEFAULT_START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class ProcessStartError(RuntimeError):
    """A test process could not start; the message is one line with the fix."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path: Path, limit: int = 1500) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-limit:].strip()


class _Process:
    """A child process in its own process group, with its output in a log file."""

    name = "process"

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._dir = Path(tempfile.mkdtemp(prefix=f"meshes-{self.name}-"))
        self.log_path = self._dir / "output.log"

    def _spawn(self, argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | None) -> None:
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,  # its own group: stop() reaches its children too
            )
        finally:
            log.close()

    def _wait_for_port(self, timeout: float, what: str) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        delay = 0.02
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                output = _tail(self.log_path)
                self.stop()
                raise ProcessStartError(
                    f"{what} exited with code {code} before listening on port {self.port}: "
                    + (output.splitlines()[-1] if output else "(no output)")
                    + f" (full output: {self.log_path})"
                )
            if port_open(self.port):
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
        self.stop()
        raise ProcessStartError(
            f"{what} did not listen on port {self.port} within {timeout:.0f} s "
            f"(output: {self.log_path})"
        )

    @property
    def running(self) -> bool:
        """Started and not exited (a `with` on a started process does not start it again)."""
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        """What the process printed so far (for failure reports and log assertions)."""
        return _tail(self.log_path, limit=1_000_000)

    def stop(self) -> None:
        """Stop the process group (TERM, then KILL); idempotent."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=STOP_TIMEOUT)
        else:
            try:  # children it left behind in its group
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


class RedisServer(_Process):
    """A throwaway redis-server (Debian's) on a free port: no persistence, no config file.

    `url` is ``redis://127.0.0.1:PORT/0``; `flush()` empties it between tests.
    """

    name = "redis"

    def __init__(
        self, executable: str | None = None, port: int = 0, extra_args: Sequence[str] = ()
    ) -> None:
        super().__init__()
        self.executable = executable or shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = port or free_port()
        self.extra_args = list(extra_args)

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> RedisServer:
        if not Path(self.executable).exists():
            raise ProcessStartError(
                f"redis-server not found at {self.executable}: "
                "apt-get install redis-server (or pass executable=)"
            )
        if port_open(self.port):
            raise ProcessStartError(f"port {self.port} is taken: choose another port for Redis")
        argv = [
            self.executable,
            "--port", str(self.port),
            "--bind", LOOPBACK,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._dir),
            "--protected-mode", "yes",
            *self.extra_args,
        ]  # fmt: skip
        self._spawn(argv, env=None, cwd=str(self._dir))
        self._wait_for_port(DEFAULT_START_TIMEOUT, "redis-server")
        return self

    def flush(self) -> None:
        """FLUSHALL through redis-py."""
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()

    def __enter__(self) -> RedisServer:
        return self if self.running else self.start()


#: What makes a redis-server a cluster node (its nodes.conf lands in its own directory).
CLUSTER_NODE_ARGS = (
    "--cluster-enabled", "yes",
    "--cluster-config-file", "nodes.conf",
    "--cluster-node-timeout", "5000",
)  # fmt: skip
#: ``redis-cli --cluster create <nodes>`` then these: primaries only, no questions asked.
CLUSTER_CREATE_ARGS = ("--cluster-replicas", "0", "--cluster-yes")


def free_cluster_port() -> int:
    """A free port P <= 55535 whose cluster bus port P + 10000 is free too."""
    for _ in range(200):
        port = random.randint(20_000, 55_535)
        if _bindable(port) and _bindable(port + 10_000):
            return port
    raise ProcessStartError("no free pair of ports P, P+10000 for a Redis Cluster node")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


class RedisClusterServer:
    """A throwaway Redis Cluster: `nodes` (default 3) redis-servers with
    ``--cluster-enabled yes`` on free loopback ports, joined by ``redis-cli --cluster
    create`` (no replicas), ready once every node reports ``cluster_state:ok``.

    `url` names the first node (``redis://127.0.0.1:PORT/0``: what
    MESHES_BRIDGE_REDIS_URL holds with MESHES_BRIDGE_REDIS_CLUSTER=true); `flush()` empties
    every node between tests; the `with` block stops them all.

        with RedisClusterServer() as cluster:
            store = RedisStore(cluster.url, cluster=True)
    """

    def __init__(
        self, nodes: int = 3, executable: str | None = None, cli: str | None = None
    ) -> None:
        if nodes < 3:
            raise ValueError("a Redis Cluster needs at least 3 primaries")
        self.executable = executable or shutil.which("redis-server") or "/usr/bin/redis-server"
        self.cli = cli or shutil.which("redis-cli") or "/usr/bin/redis-cli"
        self.nodes = [
            RedisServer(
                self.executable,
                port=free_cluster_port(),
                extra_args=CLUSTER_NODE_ARGS,
            )
            for _ in range(nodes)
        ]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def running(self) -> bool:
        return all(node.running for node in self.nodes)

    def start(self) -> RedisClusterServer:
        if not Path(self.cli).exists():
            raise ProcessStartError(
                f"redis-cli not found at {self.cli}: apt-get install redis-tools (or pass cli=)"
            )
        try:
            for node in self.nodes:
                node.start()  # each in its own directory: its own nodes.conf
            addresses = [f"{LOOPBACK}:{port}" for port in self.ports]
            create = [self.cli, "--cluster", "create", *addresses, *CLUSTER_CREATE_ARGS]
            done = subprocess.run(
                create,
                capture_output=True,
                text=True,
                timeout=DEFAULT_START_TIMEOUT,
            )
            if done.returncode != 0:
                lines = (done.stdout + done.stderr).strip().splitlines()
                raise ProcessStartError(
                    "redis-cli --cluster create failed: " + (lines[-1] if lines else "")
                )
            self._wait_until_ok(DEFAULT_START_TIMEOUT)
        except BaseException:
            self.cleanup()
            raise
        return self

    def _cluster_state(self, port: int) -> str:
        done = subprocess.run(
            [self.cli, "-h", LOOPBACK, "-p", str(port), "cluster", "info"],
            capture_output=True,
            text=True,
            timeout=STOP_TIMEOUT,
        )
        for line in done.stdout.splitlines():
            if line.startswith("cluster_state:"):
                return line.split(":", 1)[1].strip()
        return ""

    def _wait_until_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while time.monotonic() < deadline:
            if all(self._cluster_state(port) == "ok" for port in self.ports):
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        raise ProcessStartError(
            f"the Redis Cluster on ports {self.ports} was not cluster_state:ok within "
            f"{timeout:.0f} s (node output: {self.nodes[0].log_path})"
        )

    def flush(self) -> None:
        """FLUSHALL on every node, through redis-py."""
        import redis

        for node in self.nodes:
            client = redis.Redis.from_url(node.url)
            try:
                client.flushall()
            finally:
                client.close()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()

    def __enter__(self) -> RedisClusterServer:
        return self if self.running else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


class RedisSentinelServer:
    """A throwaway Sentinel set-up: a master, one replica and one Sentinel (quorum 1),
    each on a free loopback port, ready once the Sentinel knows the master and its replica.

    `sentinels` is ``[(host, port)]`` and `service_name` the master's name, as
    ``redis.sentinel.Sentinel(sentinels).master_for(service_name)`` wants them;
    `failover()` asks the Sentinel to promote the replica and waits until it has.
    """

    def __init__(self, service_name: str = "meshes", executable: str | None = None) -> None:
        self.service_name = service_name
        self.executable = executable or shutil.which("redis-server") or "/usr/bin/redis-server"
        self.master = RedisServer(self.executable)
        self.replica = RedisServer(
            self.executable, extra_args=["--replicaof", LOOPBACK, str(self.master.port)]
        )
        self.sentinel = _SentinelProcess(self.executable, self.service_name, self.master.port)

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [(LOOPBACK, self.sentinel.port)]

    @property
    def running(self) -> bool:
        return self.master.running and self.replica.running and self.sentinel.running

    def start(self) -> RedisSentinelServer:
        try:
            self.master.start()
            self.replica.start()
            self.sentinel.start()
            self._wait(lambda: self._replicas_known() >= 1, "the Sentinel to see the replica")
        except BaseException:
            self.cleanup()
            raise
        return self

    def master_port(self) -> int:
        """The port of the master the Sentinel names now."""
        import redis

        with redis.Redis(LOOPBACK, self.sentinel.port, decode_responses=True) as client:
            _, port = client.execute_command(
                "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service_name
            )
        return int(port)

    def failover(self) -> int:
        """Promote the replica (SENTINEL FAILOVER) and wait until the Sentinel names it, it
        answers as a master and the old master has become its replica; its port."""
        import redis

        old = self.master_port()
        self._wait(self._replica_in_sync, "the replica to be in sync before the failover")
        with redis.Redis(LOOPBACK, self.sentinel.port) as client:
            client.execute_command("SENTINEL", "FAILOVER", self.service_name)
        self._wait(lambda: self.master_port() != old, "the Sentinel to promote the replica")
        new = self.master_port()

        def role(port: int) -> str:
            with redis.Redis(LOOPBACK, port, decode_responses=True) as client:
                return str(client.info("replication")["role"])

        self._wait(lambda: role(new) == "master", "the promoted replica to answer as master")
        self._wait(lambda: role(old) == "slave", "the old master to become a replica")
        return new

    def _replicas_known(self) -> int:
        import redis

        with redis.Redis(LOOPBACK, self.sentinel.port, decode_responses=True) as client:
            return len(client.execute_command("SENTINEL", "REPLICAS", self.service_name))

    def _replica_in_sync(self) -> bool:
        import redis

        with redis.Redis(LOOPBACK, self.replica.port, decode_responses=True) as client:
            info = client.info("replication")
        return bool(info.get("master_link_status") == "up")

    def _wait(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEFAULT_START_TIMEOUT
        delay = 0.05
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except Exception:  # noqa: BLE001 - not answering yet
                pass
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        raise ProcessStartError(
            f"timed out waiting for {what} (Sentinel output: {self.sentinel.log_path})"
        )

    def stop(self) -> None:
        for process in (self.sentinel, self.replica, self.master):
            process.stop()

    def cleanup(self) -> None:
        for process in (self.sentinel, self.replica, self.master):
            process.cleanup()

    def __enter__(self) -> RedisSentinelServer:
        return self if self.running else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


class _SentinelProcess(_Process):
    """``redis-server sentinel.conf --sentinel`` watching one master (quorum 1)."""

    name = "sentinel"

    def __init__(self, executable: str, service_name: str, master_port: int) -> None:
        super().__init__()
        self.executable = executable
        self.port = free_port()
        self.service_name = service_name
        self.master_port = master_port

    def start(self) -> _SentinelProcess:
        config = self._dir / "sentinel.conf"  # Sentinel rewrites it: a file of its own
        config.write_text(
            f"port {self.port}\n"
            f"bind {LOOPBACK}\n"
            f"dir {self._dir}\n"
            f"sentinel monitor {self.service_name} {LOOPBACK} {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.service_name} 1000\n"
            f"sentinel failover-timeout {self.service_name} 10000\n"
        )
        self._spawn([self.executable, str(config), "--sentinel"], env=None, cwd=str(self._dir))
        self._wait_for_port(DEFAULT_START_TIMEOUT, "redis-server --sentinel")
        return self

    def __enter__(self) -> _SentinelProcess:
        return self if self.running else self.start()


class OnLoopback:
    """Something listening on ``127.0.0.1:<port>``: its ``url`` and ``origin`` (the same
    string: no path)."""

    port: int

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def origin(self) -> str:
        return self.url


class AppProcess(_Process, OnLoopback):
    """A host app under its framework's real server, started from a command line.

    `argv` may hold ``{port}``, replaced by the port (a free one unless given); `env` is
    added to this process's environment. `url` is ``http://127.0.0.1:PORT``.
    """

    name = "app"

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        port: int = 0,
        cwd: str | os.PathLike[str] | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        super().__init__()
        self.port = port or free_port()
        self.argv = [part.replace("{port}", str(self.port)) for part in argv]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = str(cwd) if cwd is not None else None
        self.start_timeout = start_timeout

    def start(self) -> AppProcess:
        if port_open(self.port):
            raise ProcessStartError(f"port {self.port} is taken: choose another port for the app")
        command = " ".join(self.argv[:3])
        self._spawn(self.argv, env=self.env, cwd=self.cwd)
        self._wait_for_port(self.start_timeout, f"the app ({command})")
        return self

    def __enter__(self) -> AppProcess:
        return self if self.running else self.start()
