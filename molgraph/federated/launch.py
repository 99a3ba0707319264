"""Flower's processes, started and stopped: a SuperLink (the server's end: one HTTP port for the
owners' SuperNodes, the run submission and the server app), a SuperNode per data owner, and
the submission of the molgraph Flower app (``flwr run``). This is Flower's supported
deployment since 1.13 (``start_server``/``start_client`` are deprecated); each process runs
the apps of ``molgraph.federated.app`` in subprocesses of its own.

Every process gets a Flower home directory of its own (``FLWR_HOME``: where Flower unpacks
the app), its own process group (so stopping it stops its subprocesses) and a log file.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

#: the Flower app (FAB) that ``flwr run`` submits: it names the apps in
#: molgraph.federated.app, which every process imports from the installed molgraph
APP_PYPROJECT = """\
[project]
name = "molgraph-federation"
version = "1.0.0"
license = "MIT"
dependencies = []

[tool.flwr.app]
publisher = "molgraph"

[tool.flwr.app.components]
serverapp = "molgraph.federated.app:server_app"
clientapp = "molgraph.federated.app:client_app"

[tool.flwr.app.config]
federation-file = ""
out = ""
"""


def flower_app(directory: Path) -> Path:
    """Write the Flower app ``flwr run`` packs and submits into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(APP_PYPROJECT)
    return directory


def _command(name: str) -> str:
    """A Flower command, from this Python's environment first."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise OSError(f"{name}: Flower's command is not installed; install molgraph with "
                      "the federated extra: pip install 'molgraph[federated]'")
    return found


def _environment(home: Path) -> dict[str, str]:
    """This environment, with Flower's home at ``home`` and this Python's commands first
    (the SuperLink and SuperNodes start ``flwr-serverapp``/``flwr-clientapp`` by name)."""
    home.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "FLWR_HOME": str(home), "PATH": path, "PYTHONUNBUFFERED": "1"}


def _start(args: list[str], home: Path, log_file: Path, own_group: bool = True
           ) -> subprocess.Popen:
    """Start a Flower process; ``own_group``: in a process group of its own (stopped with its
    subprocesses by :func:`stop`), else in this process's (a signal to the group that
    started it, e.g. a killed client, reaches it too)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                env=_environment(home), start_new_session=own_group)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def split_address(address: str) -> tuple[str, int]:
    """``"HOST:PORT"`` as host and port; a malformed address is an error naming it."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"server address {address!r} is not HOST:PORT (e.g. 127.0.0.1:9092)")
    return host, int(port)


def start_superlink(address: str, home: Path, log_file: Path) -> subprocess.Popen:
    """Start a SuperLink on ``address`` (without TLS, as for one machine or a trusted
    network) and wait until it listens."""
    host, port = split_address(address)
    process = _start([_command("flower-superlink"), "--insecure",
                      "--disable-runtime-dependency-installation", "--host", host,
                      "--port", str(port)], home, log_file)
    _wait_for_port(host, port, process, log_file, 60.0)
    return process


def start_supernode(server: str, owner_file: Path, home: Path, log_file: Path,
                    own_group: bool = True) -> subprocess.Popen:
    """Start a SuperNode that serves the owner described in ``owner_file`` to the SuperLink
    at ``server`` (``own_group``: as :func:`_start`)."""
    return _start([_command("flower-supernode"), "--insecure", "--superlink", server,
                   "--port", str(free_port()), "--node-config",
                   f"owner-file={_toml_string(owner_file)}"], home, log_file, own_group)


def serve_until_gone(node: subprocess.Popen, server: str, connect_timeout: float) -> int:
    """Wait while ``node`` serves the SuperLink at ``server``; once the SuperLink has not
    answered for ``connect_timeout`` seconds (it never came, or its run is over), stop the
    node and return 0 (a SuperNode retries forever, even with ``--max-wait-time``). A node
    that ends by itself gives its exit code."""
    host, port = split_address(server)
    seen = time.time()
    while node.poll() is None:
        with socket.socket() as probe:
            probe.settimeout(2.0)
            if probe.connect_ex((host, port)) == 0:
                seen = time.time()
        if time.time() - seen > connect_timeout:
            stop(node)
            return 0
        time.sleep(1.0)
    return node.returncode


def submit(app: Path, server: str, run_config: dict[str, str], home: Path, log_file: Path,
           timeout: float | None = None) -> int:
    """Submit the Flower app in ``app`` to the SuperLink at ``server`` and follow it to its
    end (``flwr run --stream``); its exit code."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "molgraph"\n\n[superlink.molgraph]\n'
        f'address = "{server}"\ninsecure = true\n')
    overrides = " ".join(f"{k}={_toml_string(v)}" for k, v in run_config.items())
    with open(log_file, "ab") as log:
        try:
            done = subprocess.run([_command("flwr"), "run", str(app), "molgraph",
                                   "--run-config", overrides, "--stream"], stdout=log,
                                  stderr=subprocess.STDOUT, env=_environment(home),
                                  timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise TimeoutError(f"the federated run took longer than {timeout:g} s and was "
                               f"stopped (log: {log_file}); raise --timeout") from err
    return done.returncode


def _toml_string(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wait_for_port(host: str, port: int, process: subprocess.Popen, log_file: Path,
                   timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise OSError(f"{log_file}: the Flower SuperLink stopped at start (exit code "
                          f"{process.returncode}; is port {port} free?): "
                          f"{tail(log_file)}")
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    stop(process)
    raise OSError(f"{log_file}: the Flower SuperLink did not listen on {host}:{port} within "
                  f"{timeout:g} s")


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop ``process`` (SIGTERM, then SIGKILL) and, when it leads a process group of its
    own, the subprocesses of that group."""
    own_group = _group(process.pid) == process.pid
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            break
        _signal(process, sig, own_group)
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    if own_group:  # subprocesses that outlived their parent
        _signal(process, signal.SIGKILL, own_group)


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _signal(process: subprocess.Popen, sig: int, group: bool) -> None:
    try:
        os.killpg(process.pid, sig) if group else process.send_signal(sig)
    except ProcessLookupError:
        pass


def tail(log_file: Path, lines: int = 5) -> str:
    """The last lines of a log, joined for a one-line message."""
    try:
        text = log_file.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])
