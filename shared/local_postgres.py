"""Throwaway PostgreSQL clusters for tests, benchmarks and local development.

:class:`LocalPostgres` runs ``initdb`` and ``pg_ctl`` from a local PostgreSQL
installation to create a private cluster that listens only on loopback
(``127.0.0.1`` plus a Unix socket next to the data directory), trusts every
local connection, and trades durability for speed (``fsync=off``,
``synchronous_commit=off``, ``full_page_writes=off``). It must never hold data
anyone cares about.

PostgreSQL refuses to run as root. When this process is root, the cluster is
run as the unprivileged ``postgres`` OS user (created by Debian's
``postgresql`` package), or, if that does not exist, as a system user named
``omni-pg`` that is created on first use. Whatever the OS user, the database
superuser role is always called ``postgres``.

Usage in code::

    with LocalPostgres() as pg:
        dsn = pg.create_database("orders")
        with psycopg.connect(dsn) as conn:
            ...

Usage from a shell (foreground, stops on SIGTERM or Ctrl-C)::

    python -m shared.local_postgres --data-dir .data/pg --port 5432

Binaries are looked up in ``$OMNI_PG_BIN`` if set, else in the newest
``/usr/lib/postgresql/<version>/bin``, else on ``PATH``. ``.ci/install-postgres.sh``
installs them on Debian-based CI images.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import glob
import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

import psycopg
from psycopg import sql

from shared.ports import free_port

__all__ = [
    "DEFAULT_OS_USER",
    "FALLBACK_OS_USER",
    "PG_BIN_ENV",
    "SUPERUSER",
    "LocalPostgres",
    "LocalPostgresError",
    "find_pg_bin_dir",
    "main",
]

#: Environment variable naming a directory that holds ``initdb``, ``pg_ctl``
#: and ``postgres``; it wins over every other lookup.
PG_BIN_ENV = "OMNI_PG_BIN"

#: Name of the database superuser role created by ``initdb``.
SUPERUSER = "postgres"

#: OS account used when running as root (Debian's package creates it).
DEFAULT_OS_USER = "postgres"

#: OS account created with ``useradd --system`` when root has no ``postgres`` user.
FALLBACK_OS_USER = "omni-pg"

_HOST = "127.0.0.1"
_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
# Linux sun_path holds 108 bytes including the trailing NUL; PostgreSQL refuses
# to start if "<socket dir>/.s.PGSQL.<port>" does not fit.
_MAX_SOCKET_PATH = 107
_DEFAULT_TIMEOUT = 60.0
_LOG_TAIL_LINES = 40
# pg_hba.conf written after initdb: "trust" is acceptable only because nothing
# but this machine can reach the server (see listen_addresses).
_PG_HBA = """\
# Written by shared/local_postgres.py for a throwaway cluster.
# Trust authentication, but only over the Unix socket and loopback.
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  trust
host    all          all   127.0.0.1/32   trust
host    all          all   ::1/128        trust
local   replication  all                  trust
host    replication  all   127.0.0.1/32   trust
host    replication  all   ::1/128        trust
"""


class LocalPostgresError(RuntimeError):
    """Raised when the throwaway cluster cannot be created, started or stopped."""


@dataclass(frozen=True)
class _OsUser:
    """The unprivileged account that owns and runs the cluster."""

    name: str
    uid: int
    gid: int
    groups: frozenset[int]


def find_pg_bin_dir() -> Path:
    """Return the directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Order: ``$OMNI_PG_BIN``, the newest ``/usr/lib/postgresql/*/bin``, ``PATH``.

    Raises:
        LocalPostgresError: if no complete set of binaries is found.
    """
    override = os.environ.get(PG_BIN_ENV)
    if override:
        bin_dir = Path(override)
        missing = _missing_binaries(bin_dir)
        if missing:
            raise LocalPostgresError(
                f"{PG_BIN_ENV}={override!r} lacks {', '.join(missing)}"
            )
        return bin_dir

    candidates = [
        Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")
    ]
    candidates = [c for c in candidates if not _missing_binaries(c)]
    if candidates:
        return max(candidates, key=lambda c: _version_key(c.parent.name))

    initdb = shutil.which("initdb")
    if initdb:
        # Resolve symlinks such as /usr/local/bin/initdb: pg_ctl execs the
        # "postgres" next to its real location, so we want the real directory.
        bin_dir = Path(initdb).resolve().parent
        if not _missing_binaries(bin_dir):
            return bin_dir

    raise LocalPostgresError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; "
        f"set {PG_BIN_ENV} or run .ci/install-postgres.sh"
    )


def _missing_binaries(bin_dir: Path) -> list[str]:
    return [
        name for name in _REQUIRED_BINARIES if not os.access(bin_dir / name, os.X_OK)
    ]


def _version_key(text: str) -> tuple[int, ...]:
    """Turn "15" or "9.6" into a sortable tuple; junk sorts lowest."""
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return (-1,)


def _resolve_os_user() -> _OsUser | None:
    """Return the account to run PostgreSQL as, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in (DEFAULT_OS_USER, FALLBACK_OS_USER):
        with contextlib.suppress(KeyError):
            return _os_user(name)
    result = subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_OS_USER,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit status 9 means another process created the account concurrently.
    if result.returncode not in (0, 9):
        raise LocalPostgresError(
            "PostgreSQL refuses to run as root and no unprivileged user exists; "
            f"`useradd --system {FALLBACK_OS_USER}` failed: {result.stderr.strip()}"
        )
    return _os_user(FALLBACK_OS_USER)


def _os_user(name: str) -> _OsUser:
    entry = pwd.getpwnam(name)
    groups = frozenset(os.getgrouplist(name, entry.pw_gid))
    return _OsUser(name=name, uid=entry.pw_uid, gid=entry.pw_gid, groups=groups)


def _can_traverse(path: Path, user: _OsUser) -> bool:
    """Whether ``user`` may search (``x``) ``path``, judged by mode bits alone."""
    st = path.stat()
    if st.st_uid == user.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in user.groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _process_state(pid: int) -> str | None:
    """Return the /proc state letter of ``pid``, or None if it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may contain spaces and parentheses, so parse
    # from the last ")".
    return text[text.rindex(")") + 2 :].split()[0]


def _is_alive(pid: int) -> bool:
    # Zombies count as dead: they hold no shared memory or sockets, and our
    # PID 1 might never reap the reparented postmaster.
    state = _process_state(pid)
    return state is not None and state not in ("Z", "X")


def _related_pids(postmaster_pid: int) -> set[int]:
    """PIDs in the postmaster's process group or directly parented by it."""
    related: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        ppid, pgrp = int(fields[1]), int(fields[2])
        if postmaster_pid in (ppid, pgrp):
            related.add(int(entry.name))
    return related


class LocalPostgres:
    """A private PostgreSQL cluster on loopback, for tests and benchmarks.

    The cluster is created with ``initdb`` on first :meth:`start` (an existing
    cluster in ``data_dir`` is reused) and started with ``pg_ctl``. Use it as a
    context manager: entering starts it; leaving stops it and, when no
    ``data_dir`` was given, deletes the temporary directory.

    Args:
        data_dir: Cluster directory. ``None`` creates a temporary directory
            that is deleted by :meth:`cleanup` / on context exit. Sockets and
            the server log go to the sibling directory ``<data_dir>.run``.
        port: TCP port on 127.0.0.1; ``0`` picks a free one. The port is then
            kept for the lifetime of the object so a restart reuses it.
        timeout: Seconds to wait for startup or shutdown.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int = 0,
        *,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        self._bin_dir = find_pg_bin_dir()
        self._os_user = _resolve_os_user()
        self._timeout = timeout
        self._port = port or free_port()
        # A port we picked ourselves may be replaced if someone grabs it before
        # postgres binds it; a caller-chosen port never is.
        self._port_is_negotiable = port == 0
        self._temp_dirs: list[Path] = []
        self._atexit_registered = False

        if data_dir is None:
            base = Path(tempfile.mkdtemp(prefix="omni-pg-"))
            self._temp_dirs.append(base)
            self._data_dir = base / "data"
            self._run_dir = base / "run"
        else:
            # Absolute because the children run with a different cwd.
            self._data_dir = Path(data_dir).absolute()
            self._run_dir = self._data_dir.with_name(self._data_dir.name + ".run")
        self._log_file = self._run_dir / "postgres.log"
        self._socket_dir = self._run_dir
        if len(os.fsencode(self._socket_dir / ".s.PGSQL.65535")) > _MAX_SOCKET_PATH:
            # Deep data dirs (e.g. inside pytest's tmp tree) overflow sun_path;
            # fall back to a short private directory for the socket only.
            short = Path(tempfile.mkdtemp(prefix="omni-pgsock-"))
            self._temp_dirs.append(short)
            self._socket_dir = short

    # ------------------------------------------------------------------ props

    @property
    def host(self) -> str:
        """TCP host the server listens on (always loopback)."""
        return _HOST

    @property
    def port(self) -> int:
        """TCP port the server listens on."""
        return self._port

    @property
    def user(self) -> str:
        """Database superuser role name (no password; trust authentication)."""
        return SUPERUSER

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self._data_dir

    @property
    def socket_dir(self) -> Path:
        """Directory holding the Unix-domain socket."""
        return self._socket_dir

    @property
    def log_file(self) -> Path:
        """Server log file (appended to across restarts)."""
        return self._log_file

    @property
    def bin_dir(self) -> Path:
        """Directory of the PostgreSQL binaries in use."""
        return self._bin_dir

    @property
    def os_user(self) -> str:
        """OS account the server processes run as."""
        return (
            self._os_user.name if self._os_user else pwd.getpwuid(os.geteuid()).pw_name
        )

    @property
    def pid(self) -> int | None:
        """PID of the running postmaster, or None if it is not running."""
        pid = self._read_postmaster_pid()
        return pid if pid is not None and _is_alive(pid) else None

    def is_running(self) -> bool:
        """Whether a postmaster for this data directory is alive."""
        return self.pid is not None

    def dsn(self, dbname: str = "postgres") -> str:
        """Return a psycopg-compatible URL for ``dbname`` on this server."""
        return f"postgresql://{SUPERUSER}@{_HOST}:{self._port}/{quote(dbname, safe='')}"

    # -------------------------------------------------------------- lifecycle

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            # __exit__ will not run, so do not leak a half-started server or
            # the temporary directory.
            with contextlib.suppress(Exception):
                self.kill()
            self.cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.stop()
        finally:
            self.cleanup()

    def start(self) -> None:
        """Create the cluster if needed, start it and wait until it accepts connections.

        Idempotent: does nothing if the server is already running. After
        :meth:`stop` or :meth:`kill` it restarts on the same data directory
        and port (running crash recovery after a kill).

        Raises:
            LocalPostgresError: with the server log tail if startup fails or
                does not finish within the timeout.
        """
        if self.is_running():
            return
        self._prepare_directories()
        if not (self._data_dir / "PG_VERSION").exists():
            self._initdb()
        attempts = 3 if self._port_is_negotiable else 1
        for attempt in range(1, attempts + 1):
            log_offset = self._log_size()
            try:
                self._start_server()
                break
            except LocalPostgresError:
                lost_port_race = "Address already in use" in self._log_since(log_offset)
                if not lost_port_race or attempt == attempts:
                    raise
                self._port = free_port()
        self._port_is_negotiable = False
        if not self._atexit_registered:
            # Never leave an orphaned postmaster behind if the caller forgets
            # to stop it (e.g. the test process is interrupted).
            atexit.register(self._stop_at_exit)
            self._atexit_registered = True

    def stop(self) -> None:
        """Shut the server down in "fast" mode and wait for it to exit.

        Open client sessions are terminated; committed data is kept. Does
        nothing if the server is not running.
        """
        pid = self.pid
        if pid is None:
            return
        result = self._run(
            [
                str(self._bin_dir / "pg_ctl"),
                "stop",
                "-D",
                str(self._data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                str(int(self._timeout)),
            ],
            timeout=self._timeout + 10,
        )
        if result.returncode != 0 and self.is_running():
            raise self._error("pg_ctl stop failed", result)
        self._wait_gone({pid})

    def kill(self) -> None:
        """Simulate a crash: SIGKILL the postmaster and its server processes.

        Killing only the postmaster would leave orphaned backends attached to
        the shared memory segment, and the next :meth:`start` would refuse to
        run ("pre-existing shared memory block is still in use") until they
        noticed and exited. Killing them all models a host or OOM crash and
        keeps restarts deterministic.

        Note that with ``synchronous_commit=off`` a commit returns before its
        WAL reaches the OS, so transactions committed in the last few hundred
        milliseconds before a kill are typically lost. Fault tests that need
        every acknowledged commit to survive should ``SET synchronous_commit
        = on`` (or ``ALTER DATABASE ... SET synchronous_commit = on``).
        """
        pid = self.pid
        if pid is None:
            return
        # Freeze the postmaster first so it cannot fork a new backend (which
        # we would miss) or respawn a child between listing and killing.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
        victims = _related_pids(pid) | {pid}
        for victim in [pid, *(victims - {pid})]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        self._wait_gone(victims)
        # The postmaster's parent is PID 1 (pg_ctl exited long ago), so it
        # stays a zombie until PID 1 reaps it (in some containers: seconds).
        # PostgreSQL's lock-file check uses kill(pid, 0), which succeeds on a
        # zombie, so a prompt start() would fail with 'lock file
        # "postmaster.pid" already exists'. Every process is verifiably dead,
        # so the locks are stale.
        for lock in (
            self._data_dir / "postmaster.pid",
            self._socket_dir / f".s.PGSQL.{self._port}.lock",
        ):
            lock.unlink(missing_ok=True)

    def cleanup(self) -> None:
        """Delete directories this object created itself (only when stopped).

        A caller-supplied ``data_dir`` is never deleted.
        """
        if self.is_running():
            raise LocalPostgresError("refusing to delete the files of a running server")
        for path in self._temp_dirs:
            shutil.rmtree(path, ignore_errors=True)
        self._temp_dirs.clear()
        if self._atexit_registered:
            atexit.unregister(self._stop_at_exit)
            self._atexit_registered = False

    # -------------------------------------------------------------- databases

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its DSN.

        Raises:
            ValueError: if ``name`` is longer than PostgreSQL's 63-byte limit
                (the server would silently truncate it).
            psycopg.Error: e.g. if the database already exists.
        """
        self._check_db_name(name)
        with self._admin_connection() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its sessions first.

        ``WITH (FORCE)`` matters because tests often leave pooled connections
        open, which would otherwise make the drop fail.
        """
        self._check_db_name(name)
        with self._admin_connection() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )

    # -------------------------------------------------------------- internals

    @staticmethod
    def _check_db_name(name: str) -> None:
        if not name or len(name.encode()) > 63:
            raise ValueError(f"database name must be 1-63 bytes: {name!r}")

    def _admin_connection(self) -> psycopg.Connection[tuple[object, ...]]:
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        return psycopg.connect(
            host=_HOST,
            port=self._port,
            user=SUPERUSER,
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        )

    def _prepare_directories(self) -> None:
        for path in (self._data_dir, self._run_dir, self._socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        # PostgreSQL insists on a private data directory (0700 or 0750).
        self._data_dir.chmod(0o700)
        user = self._os_user
        if user is None:
            return
        # mkdtemp() makes 0700 root-owned directories that the server could
        # not even enter.
        for path in {self._run_dir, self._socket_dir, *self._temp_dirs}:
            os.chown(path, user.uid, user.gid)
        if self._data_dir.stat().st_uid != user.uid:
            # A data dir created by someone else (or earlier, as another
            # user) must be wholly owned by the account running postgres.
            for root, dirs, files in os.walk(self._data_dir):
                os.chown(root, user.uid, user.gid)
                for name in dirs + files:
                    os.chown(
                        os.path.join(root, name),
                        user.uid,
                        user.gid,
                        follow_symlinks=False,
                    )
        for path in (self._data_dir, self._run_dir, self._socket_dir):
            for ancestor in path.parents:
                if not _can_traverse(ancestor, user):
                    st = ancestor.stat()
                    raise LocalPostgresError(
                        f"PostgreSQL refuses to run as root, so it runs as OS user "
                        f"{user.name!r}, which cannot enter {ancestor} (mode "
                        f"{stat.filemode(st.st_mode)}, uid {st.st_uid}). Use a data "
                        "dir below a world-searchable directory such as /tmp, or "
                        "pass data_dir=None."
                    )

    def _initdb(self) -> None:
        result = self._run(
            [
                str(self._bin_dir / "initdb"),
                "-D",
                str(self._data_dir),
                f"--username={SUPERUSER}",
                "--auth-local=trust",
                "--auth-host=trust",
                "--encoding=UTF8",
                # C collation: locale-independent, fast and reproducible sort order.
                "--locale=C",
                # Throwaway cluster: no need to fsync the freshly written files.
                "--no-sync",
            ],
            timeout=self._timeout + 60,
        )
        if result.returncode != 0:
            raise self._error("initdb failed", result, include_log=False)
        hba = self._data_dir / "pg_hba.conf"
        hba.write_text(_PG_HBA)
        if self._os_user is not None:
            os.chown(hba, self._os_user.uid, self._os_user.gid)

    def _server_options(self) -> list[str]:
        settings = {
            "port": str(self._port),
            # Loopback only: with trust authentication nothing else is safe.
            "listen_addresses": _HOST,
            "unix_socket_directories": str(self._socket_dir),
            # Durability is worthless for a throwaway cluster; speed is not.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            # Connection pools of many apps/tests add up quickly.
            "max_connections": "200",
        }
        options: list[str] = []
        for key, value in settings.items():
            options += ["-c", f"{key}={value}"]
        return options

    def _start_server(self) -> None:
        result = self._run(
            [
                str(self._bin_dir / "pg_ctl"),
                "start",
                "-D",
                str(self._data_dir),
                # -l is essential: without it the postmaster would inherit our
                # stdout/stderr pipes and subprocess.run would never see EOF.
                "-l",
                str(self._log_file),
                "-w",
                "-t",
                str(int(self._timeout)),
                # pg_ctl hands -o to a shell, hence the quoting.
                "-o",
                shlex.join(self._server_options()),
            ],
            timeout=self._timeout + 10,
        )
        if result.returncode != 0:
            raise self._error("pg_ctl start failed", result)
        self._wait_accepting_connections(time.monotonic() + self._timeout)

    def _wait_accepting_connections(self, deadline: float) -> None:
        """Confirm over TCP what pg_ctl -w inferred from postmaster.pid."""
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with self._admin_connection() as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                last_error = exc
                if not self.is_running():
                    break
                time.sleep(0.05)
        raise self._error(
            f"server not accepting connections on {_HOST}:{self._port}: {last_error}"
        )

    def _wait_gone(self, pids: set[int]) -> None:
        deadline = time.monotonic() + self._timeout
        while any(_is_alive(pid) for pid in pids):
            if time.monotonic() > deadline:
                raise self._error(f"server processes {sorted(pids)} did not exit")
            time.sleep(0.02)

    def _stop_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        with contextlib.suppress(Exception):
            self.cleanup()

    def _read_postmaster_pid(self) -> int | None:
        try:
            first_line = (
                (self._data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
            )
            return int(first_line)
        except (OSError, ValueError):
            return None

    def _run(
        self, cmd: list[str], *, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool, as the unprivileged user when we are root."""
        # Inherited PG* variables (PGDATA, PGPORT, PGOPTIONS, ...) would
        # silently change what the tools do, so drop them.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        # Keep the tools away from root's home directory and dotfiles.
        env["HOME"] = str(self._run_dir)
        user = self._os_user
        try:
            if user is None:
                return subprocess.run(
                    cmd,
                    cwd=self._run_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
            return subprocess.run(
                cmd,
                cwd=self._run_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                user=user.uid,
                group=user.gid,
                extra_groups=[],
            )
        except subprocess.TimeoutExpired as exc:
            raise self._error(
                f"{Path(cmd[0]).name} timed out after {timeout:.0f}s"
            ) from exc

    def _log_size(self) -> int:
        try:
            return self._log_file.stat().st_size
        except OSError:
            return 0

    def _log_since(self, offset: int) -> str:
        try:
            with self._log_file.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of the server log (for error reports)."""
        try:
            text = self._log_file.read_text(errors="replace")
        except OSError:
            return f"(no server log at {self._log_file})"
        return "\n".join(text.splitlines()[-lines:])

    def _error(
        self,
        message: str,
        result: subprocess.CompletedProcess[str] | None = None,
        *,
        include_log: bool = True,
    ) -> LocalPostgresError:
        where = f"data dir {self._data_dir}, port {self._port}, OS user {self.os_user}"
        parts = [f"{message} ({where})"]
        if result is not None:
            output = (result.stdout + result.stderr).strip()
            if output:
                parts.append(f"--- {Path(result.args[0]).name} output ---\n{output}")
        if include_log:
            parts.append(f"--- last lines of {self._log_file} ---\n{self.log_tail()}")
        return LocalPostgresError("\n".join(parts))


def main(argv: Sequence[str] | None = None) -> int:
    """Run a local cluster in the foreground until SIGTERM or SIGINT.

    Returns the process exit status: 0 after a requested shutdown, 1 if the
    server died on its own.
    """
    parser = argparse.ArgumentParser(
        prog="python -m shared.local_postgres",
        description="Run a throwaway PostgreSQL cluster on 127.0.0.1 until SIGTERM.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="cluster directory, initdb'd if empty; kept on exit "
        "(default: a temporary directory, deleted on exit)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port (default: any free port)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=_DEFAULT_TIMEOUT,
        help="startup/shutdown timeout in seconds",
    )
    args = parser.parse_args(argv)

    stop_requested = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop_requested.set()

    # Installed before startup so a signal during initdb still shuts down cleanly.
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    server = LocalPostgres(args.data_dir, args.port, timeout=args.timeout)
    with server:
        print(
            f"PostgreSQL ready at {server.dsn()} "
            f"(data dir {server.data_dir}, log {server.log_file}, pid {server.pid})",
            flush=True,
        )
        while not stop_requested.wait(1.0):
            if not server.is_running():
                print(
                    f"PostgreSQL exited unexpectedly; log tail:\n{server.log_tail()}",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
        print("Stopping PostgreSQL ...", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
