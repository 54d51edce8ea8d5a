"""A real single-node Apache Kafka broker for development and tests.

There is no Docker on the project's machines and no Kafka package in Debian, so
the broker is assembled from Maven Central jars (``deploy/local/kafka/pom.xml``)
and run with the machine's Java 17 in combined KRaft mode (one process that is
both controller and broker), listening on 127.0.0.1 only.

Typical use::

    from shared.local_kafka import LocalKafka

    with LocalKafka(Path(".data/kafka")) as kafka:
        print(kafka.bootstrap)  # "127.0.0.1:<port>"

or from a shell: ``python -m shared.local_kafka --port 9092 --data-dir .data/kafka``.

Environment:

``OMNI_KAFKA_LIBS``
    Folder that holds (or will hold) the broker's jars. Default:
    ``~/.cache/omni-connections/kafka-4.1.2/libs``.
``OMNI_KAFKA_HEAP``
    JVM heap flags, as one string. Default: ``-Xms512m -Xmx1g``.

See ``docs/kafka-local.md`` for what was measured on the project's machines.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType

from shared.ports import free_port

__all__ = [
    "KAFKA_VERSION",
    "KafkaStartError",
    "LocalKafka",
    "ensure_kafka_jars",
    "main",
    "new_cluster_id",
]

KAFKA_VERSION = "4.1.2"
"""Apache Kafka version pinned in ``deploy/local/kafka/pom.xml``."""

DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy" / "local" / "kafka"
"""Folder with the throwaway POM and the Log4j 2 configuration."""

DEFAULT_LIBS_DIR = Path("~/.cache/omni-connections") / f"kafka-{KAFKA_VERSION}" / "libs"
DEFAULT_HEAP = "-Xms512m -Xmx1g"

# Full coordinates so the plugin version does not depend on Maven's defaults
# (3.6.1 is known to work with the Maven 3.8.7 of Debian 12).
_COPY_GOAL = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies"
_MARKER = ".complete"
# Competing SLF4J bindings; if one came along transitively, SLF4J would pick
# one at random and our log4j2.properties could be ignored.
_UNWANTED_JAR_PREFIXES = ("logback", "slf4j-log4j12", "slf4j-reload4j")
_STARTED_LINE = "Kafka Server started"
_LOG_FILE = "kafka.log"


class KafkaStartError(RuntimeError):
    """The jars could not be assembled or the broker did not become ready."""


# --------------------------------------------------------------------------- jars


def _libs_dir_from_env() -> Path:
    configured = os.environ.get("OMNI_KAFKA_LIBS")
    return Path(configured).expanduser() if configured else DEFAULT_LIBS_DIR.expanduser()


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def ensure_kafka_jars(libs_dir: Path | None = None) -> Path:
    """Return a folder holding every jar the broker needs, assembling it once.

    The first call runs Maven (``copy-dependencies`` of ``deploy/local/kafka/pom.xml``)
    into a temporary sibling folder and renames it into place, then writes a
    marker holding the POM's digest. Later calls only check the marker, so they
    are instant and work offline; editing the POM makes the next call assemble
    the jars again.

    Args:
        libs_dir: Target folder. Default: ``$OMNI_KAFKA_LIBS`` or
            ``~/.cache/omni-connections/kafka-4.1.2/libs``.

    Raises:
        KafkaStartError: Maven is missing or failed, or the result is incomplete.
    """
    libs = (libs_dir or _libs_dir_from_env()).expanduser().resolve()
    pom = DEPLOY_DIR / "pom.xml"
    if not pom.is_file():
        raise KafkaStartError(f"Kafka POM not found at {pom}; is this a checkout of the project?")
    digest = _pom_digest(pom)
    marker = libs / _MARKER

    def complete() -> bool:
        return marker.is_file() and marker.read_text().strip() == digest

    if complete():
        return libs

    libs.parent.mkdir(parents=True, exist_ok=True)
    # Several pytest workers may start at once; only one of them runs Maven.
    with open(libs.parent / f".{libs.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if complete():
            return libs
        if libs.exists() and not marker.exists() and any(libs.iterdir()):
            # Never delete a folder this function did not fill (e.g. a wrong
            # OMNI_KAFKA_LIBS pointing at something else).
            raise KafkaStartError(
                f"{libs} exists but holds no {_MARKER} marker; remove it or choose another folder"
            )
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaStartError(
                f"Kafka jars are not cached in {libs} and 'mvn' is not on PATH "
                "(install Maven, e.g. 'apt-get install maven', or set OMNI_KAFKA_LIBS)"
            )
        staging = libs.parent / f".{libs.name}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            mvn, "-B", "-q", "-f", str(pom), _COPY_GOAL,
            "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        ]  # fmt: skip
        result = subprocess.run(
            command, cwd=DEPLOY_DIR, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            output = (result.stdout + result.stderr).strip()[-4000:]
            raise KafkaStartError(f"Maven failed to copy the Kafka jars:\n{output}")
        for jar in staging.glob("*.jar"):
            if jar.name.startswith(_UNWANTED_JAR_PREFIXES):
                jar.unlink()
        if not (staging / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file():
            shutil.rmtree(staging, ignore_errors=True)
            raise KafkaStartError(f"Maven finished but kafka_2.13-{KAFKA_VERSION}.jar is missing")
        (staging / _MARKER).write_text(digest + "\n")
        # Jars assembled from an older POM are replaced whole.
        shutil.rmtree(libs, ignore_errors=True)
        os.replace(staging, libs)
    return libs


# ------------------------------------------------------------------------ helpers


def new_cluster_id() -> str:
    """Return a fresh KRaft cluster id: 16 random bytes, base64url, no padding.

    This is the textual form of Kafka's ``Uuid`` (22 characters). Like Kafka's
    own generator, it never starts with ``-`` (the storage tool would read
    such an id as an option) and is never the all-zero id.
    """
    while True:
        raw = uuid.uuid4().bytes
        text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        if not text.startswith("-") and any(raw):
            return text


def _java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaStartError(
            "'java' (17 or newer) is not on PATH; e.g. 'apt-get install openjdk-17-jre-headless'"
        )
    return java


def _port_bindable(port: int) -> bool:
    # SO_REUSEADDR like the JVM's server sockets: connections of a killed
    # broker lingering in TIME_WAIT must not count as "in use".
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _kafka_string(data: bytes, pos: int) -> tuple[str | None, int]:
    (length,) = struct.unpack_from(">h", data, pos)
    pos += 2
    if length < 0:
        return None, pos
    return data[pos : pos + length].decode("utf-8"), pos + length


def _metadata_probe(port: int, timeout: float = 2.0) -> tuple[str | None, list[tuple[int, str, int]]]:
    """Send one Kafka Metadata request (v4) and return (cluster id, brokers).

    This is the same request any client sends first, so a well-formed answer
    listing our broker means clients can use it. It is written against the
    wire format directly so that readiness can be checked from synchronous
    code, even while the caller's thread runs an asyncio loop.
    Metadata v4 is the oldest version Kafka 4.x still accepts (KIP-896).
    """
    correlation_id = 1
    client_id = b"omni-local-kafka-probe"
    header = struct.pack(">hhih", 3, 4, correlation_id, len(client_id)) + client_id
    body = struct.pack(">ib", 0, 0)  # no topics, do not auto-create anything
    request = header + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        size_raw = _recv_exact(sock, 4)
        (size,) = struct.unpack(">i", size_raw)
        data = _recv_exact(sock, size)
    (got_correlation,) = struct.unpack_from(">i", data, 0)
    if got_correlation != correlation_id:
        raise ConnectionError("unexpected correlation id in Metadata response")
    pos = 4 + 4  # correlation id, throttle_time_ms
    (broker_count,) = struct.unpack_from(">i", data, pos)
    pos += 4
    brokers: list[tuple[int, str, int]] = []
    for _ in range(max(broker_count, 0)):
        (node_id,) = struct.unpack_from(">i", data, pos)
        host, pos = _kafka_string(data, pos + 4)
        (broker_port,) = struct.unpack_from(">i", data, pos)
        _rack, pos = _kafka_string(data, pos + 4)
        brokers.append((node_id, host or "", broker_port))
    cluster_id, pos = _kafka_string(data, pos)
    return cluster_id, brokers


def _recv_exact(sock: socket.socket, count: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < count:
        chunk = sock.recv(count - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks += chunk
    return bytes(chunks)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


# ------------------------------------------------------------------------- broker


class LocalKafka:
    """One single-node Kafka broker (KRaft, combined mode) on 127.0.0.1.

    Layout of ``data_dir``: ``server.properties``, ``data/`` (Kafka's
    ``log.dirs``: the topics and the KRaft metadata log) and ``kafka.log``
    (the JVM's output, appended to across restarts).

    Ports are fixed when the object is created, so ``stop()``/``kill()``
    followed by ``start()`` brings the same broker back on the same address
    with the same data: that is the restart scenario for fault tests.

    Use it as a context manager or call ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        controller_port: int = 0,
        partitions: int = 3,
        *,
        libs_dir: Path | None = None,
        startup_timeout: float = 60.0,
        extra_properties: Mapping[str, str] | None = None,
    ) -> None:
        """Prepare (but do not start) a broker.

        Args:
            data_dir: Folder for config, data and log; created if missing.
            port: Client (PLAINTEXT) port; 0 picks a free loopback port.
            controller_port: KRaft controller port; 0 picks a free one.
            partitions: ``num.partitions`` for auto-created topics.
            libs_dir: Jar folder; default as in :func:`ensure_kafka_jars`.
            startup_timeout: Seconds to wait for readiness in :meth:`start`.
            extra_properties: More ``server.properties`` entries; they override
                the defaults (e.g. ``{"broker.session.timeout.ms": "3000"}``
                makes restarts after :meth:`kill` faster, see docs/kafka-local.md).
        """
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.controller_port = controller_port or free_port()
        if self.port == self.controller_port:
            raise ValueError("port and controller_port must differ")
        self.partitions = partitions
        self.startup_timeout = startup_timeout
        self._libs_dir = libs_dir
        self.extra_properties: dict[str, str] = dict(extra_properties or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[int, signal.Signals], LocalKafka] | None = None
        self._cluster_id: str | None = None
        self.last_startup_seconds: float | None = None
        """Wall-clock seconds the last :meth:`start` took until ready."""

    # -- public properties ---------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """Bootstrap address for clients, ``"127.0.0.1:<port>"``."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """File that receives the broker's stdout and stderr."""
        return self.data_dir / _LOG_FILE

    @property
    def properties_path(self) -> Path:
        """The generated ``server.properties``."""
        return self.data_dir / "server.properties"

    @property
    def cluster_id(self) -> str | None:
        """KRaft cluster id of the formatted storage, once started."""
        return self._cluster_id

    @property
    def is_running(self) -> bool:
        """Whether the broker's JVM is alive (not whether it is ready)."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the broker's JVM while it runs."""
        return self._process.pid if self.is_running and self._process else None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> LocalKafka:
        """Start the broker and block until clients can use it.

        Formats the storage on first use; afterwards the same data is reused.

        Raises:
            RuntimeError: The broker is already running.
            KafkaStartError: It exited or was not ready within ``startup_timeout``;
                the message carries the tail of ``kafka.log``. The JVM is
                killed in that case.
        """
        if self.is_running:
            raise RuntimeError(f"Kafka is already running at {self.bootstrap}")
        begun = time.monotonic()
        # Kafka would fail on a busy port too, but only after seconds and
        # with the cause buried in a stack trace.
        for name, port in (("port", self.port), ("controller port", self.controller_port)):
            if not _port_bindable(port):
                raise KafkaStartError(f"Kafka {name} 127.0.0.1:{port} is already in use")
        libs = ensure_kafka_jars(self._libs_dir)
        java = _java_executable()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_properties()
        self._format_storage(java, libs)

        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [
            java, *self._jvm_flags(), "-cp", f"{libs}{os.sep}*",
            "kafka.Kafka", str(self.properties_path),
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            log.write(f"\n===== starting Kafka {KAFKA_VERSION} at {stamp} =====\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command,
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: Ctrl-C in the terminal running pytest does
                # not reach the JVM behind our back, and stop() can signal it.
                start_new_session=True,
            )
        # If the Python process dies without stop(), do not leave a JVM behind.
        self._finalizer = weakref.finalize(self, _signal_group, self._process.pid, signal.SIGKILL)
        try:
            self._wait_until_ready(log_offset)
        except BaseException:
            self.kill()
            raise
        self.last_startup_seconds = time.monotonic() - begun
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the broker down cleanly (SIGTERM), SIGKILL after ``timeout`` s.

        Does nothing when it is not running.
        """
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        self._forget_process()

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would; for fault tests."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        self._forget_process()

    def log_tail(self, lines: int = 40) -> str:
        """Return the last ``lines`` lines of ``kafka.log`` (empty if none)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"LocalKafka({self.bootstrap}, data_dir={str(self.data_dir)!r}, {state})"

    # -- internals -----------------------------------------------------------

    def _forget_process(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self._process = None

    def _jvm_flags(self) -> list[str]:
        heap = shlex.split(os.environ.get("OMNI_KAFKA_HEAP") or DEFAULT_HEAP)
        return [
            *heap,
            # Same GC settings as Kafka's own start scripts: short pauses.
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'log4j2.properties'}",
        ]

    def _write_properties(self) -> None:
        data = self.data_dir / "data"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": str(self.partitions),
            "auto.create.topics.enable": "true",
            # One broker: every internal topic must live with replication factor 1.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            # Tests start consumer groups constantly; the default 3 s delay
            # only slows every first join down.
            "group.initial.rebalance.delay.ms": "0",
            # The log cleaner allocates this buffer on the heap at start
            # (default 128 MiB); 16 MiB holds ~600k keys per pass, plenty
            # here, and leaves room for a smaller OMNI_KAFKA_HEAP.
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            # Kafka's default (1 MiB + record batch overhead), written out so
            # the limit the tests rely on is visible here.
            "message.max.bytes": "1048588",
        }
        props.update(self.extra_properties)
        text = "# Written by shared/local_kafka.py; regenerated on every start.\n"
        text += "".join(f"{key}={value}\n" for key, value in props.items())
        self.properties_path.write_text(text)

    def _format_storage(self, java: str, libs: Path) -> None:
        meta = self.data_dir / "data" / "meta.properties"
        if meta.is_file():
            # Already formatted: keep its cluster id (formatting again with
            # another id would be refused; -g below would ignore it anyway).
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    self._cluster_id = line.split("=", 1)[1].strip()
            return
        self._cluster_id = new_cluster_id()
        command = [
            java, "-Xmx256m", f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'log4j2.properties'}",
            "-cp", f"{libs}{os.sep}*", "kafka.tools.StorageTool",
            "format", "-t", self._cluster_id, "-c", str(self.properties_path), "-g",
        ]  # fmt: skip
        result = subprocess.run(
            command, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=self.data_dir
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()[-4000:]
            raise KafkaStartError(f"kafka-storage format failed:\n{output}")

    def _new_log_text(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                return log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _wait_until_ready(self, log_offset: int) -> None:
        # Ready means all three: our JVM logged that it started (so an
        # unrelated process on the port cannot fool us), the client port
        # accepts connections, and a Metadata request lists this broker.
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                new_text = self._new_log_text(log_offset)
                # The cause is usually the first ERROR line; the tail is
                # often only the stack trace of the shutdown that followed.
                first_error = next((line for line in new_text.splitlines() if " ERROR " in line), "")
                raise KafkaStartError(
                    f"Kafka exited during start-up (exit code {code}): {first_error}\n"
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if _STARTED_LINE in self._new_log_text(log_offset) and _port_open(self.port):
                try:
                    cluster_id, brokers = _metadata_probe(self.port)
                except (OSError, struct.error) as err:
                    last_error = f"metadata request failed: {err}"
                else:
                    if cluster_id != self._cluster_id:
                        raise KafkaStartError(
                            f"127.0.0.1:{self.port} answers for cluster {cluster_id!r}, "
                            f"not ours ({self._cluster_id!r}); is another broker using the port?"
                        )
                    if (1, "127.0.0.1", self.port) in brokers:
                        return
                    last_error = f"broker not listed in metadata yet: {brokers}"
            time.sleep(0.1)
        raise KafkaStartError(
            f"Kafka was not ready at {self.bootstrap} within {self.startup_timeout:g} s "
            f"({last_error}); log {self.log_path}:\n{self.log_tail()}"
        )


# ---------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """Run a broker in the foreground until SIGTERM or SIGINT; return an exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.local_kafka",
        description=f"Run a local single-node Apache Kafka {KAFKA_VERSION} broker on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=9092, help="client port (0: any free port; default 9092)")
    parser.add_argument(
        "--controller-port", type=int, default=0, help="KRaft controller port (default: any free port)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".data/kafka"),
        help="config, data and log (default .data/kafka)"
    )
    parser.add_argument("--partitions", type=int, default=3, help="partitions of auto-created topics")
    args = parser.parse_args(argv)

    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    # Handle the signals ourselves so that the broker is always shut down
    # cleanly (the JVM is in its own process group and does not get Ctrl-C).
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    broker = LocalKafka(args.data_dir, args.port, args.controller_port, args.partitions)
    try:
        try:
            broker.start()
        except KafkaStartError as err:
            print(err, file=sys.stderr)
            return 1
        print(
            f"Kafka {KAFKA_VERSION} ready at {broker.bootstrap} after {broker.last_startup_seconds:.1f} s "
            f"(data {broker.data_dir}, log {broker.log_path}); stop with Ctrl-C or SIGTERM",
            flush=True,
        )
        while not stop_requested.wait(0.5):
            if not broker.is_running:
                print(f"Kafka exited unexpectedly; log tail:\n{broker.log_tail()}", file=sys.stderr)
                return 1
        print("stopping Kafka ...", flush=True)
        return 0
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
