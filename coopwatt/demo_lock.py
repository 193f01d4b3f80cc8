"""One demo per data directory: a lock file held with ``flock`` and what the running demo tells others.

The lock is ``<data dir>/demo.lock``, locked for the life of the demo process. The kernel drops
the lock when that process ends, however it ends, so a lock left by a killed demo is simply
free again: its file still names the dead run (pid, embedded PostgreSQL), which the next run
reads to know which server it may take over. A second demo finds the lock taken and reads
who holds it (pid, dashboard URL, data directory) to say so.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from coopwatt.errors import CoopwattError

LOCK_FILE = "demo.lock"
# Default data directory busy: the next demos use <dir>-2 … <dir>-9, each with its own lock.
MAX_SLOTS = 9


@dataclass(frozen=True)
class LockInfo:
    """What a demo writes into its lock file for the next one to read."""

    pid: int | None = None
    data_dir: str = ""
    started_at: str = ""
    dashboard_url: str | None = None
    metrics_url: str | None = None
    postgres_pid: int | None = None  # the embedded server this demo started (None: not started by it)


class DemoBusy(CoopwattError):
    """Every data directory the demo may use is held by a running demo."""

    def __init__(self, holders: tuple[LockInfo, ...]) -> None:
        super().__init__()
        self.holders = holders

    def __str__(self) -> str:
        return "; ".join(f"a demo is running (pid {h.pid}, data in {h.data_dir})" for h in self.holders)


def _read(path: Path) -> LockInfo | None:
    """The lock file's record, or None when it is empty or unreadable (being written, or from an older run)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return LockInfo(**{k: v for k, v in document.items() if k in LockInfo.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return None


class DemoLock:
    """The lock on one data directory, held by this process until :meth:`release` (or its end)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.path = self.data_dir / LOCK_FILE
        self._fd: int | None = None
        self.info = LockInfo(data_dir=str(self.data_dir))
        self.previous: LockInfo | None = None  # the record of an earlier run that ended (None: none)

    def acquire(self) -> DemoLock:
        """Take the lock or raise DemoBusy naming the demo that holds it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children (PEP 446)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read(self.path) or LockInfo(data_dir=str(self.data_dir))
            raise DemoBusy((holder,)) from None
        self._fd = fd
        # Free although a record is there: the run that wrote it has ended (the kernel released its lock).
        self.previous = _read(self.path)
        self.update(pid=os.getpid(), started_at=datetime.now(UTC).isoformat(timespec="seconds"))
        return self

    def update(self, **changes: object) -> None:
        """Rewrite the record with these fields changed (the dashboard URL once it is known …)."""
        if self._fd is None:
            raise RuntimeError("the demo lock is not held")
        self.info = replace(self.info, **changes)  # type: ignore[arg-type]
        data = json.dumps(asdict(self.info), indent=1).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)
        os.fsync(self._fd)

    def release(self) -> None:
        """Say the run has ended cleanly (an empty record) and let go of the lock.

        The file stays: removing it would let a demo lock a fresh file while another still
        holds the old, unlinked one.
        """
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def slot_dirs(base: Path) -> list[Path]:
    """The data directories a demo may use when the default one is busy: base, base-2 … base-9."""
    base = Path(base).expanduser().resolve()
    return [base] + [base.with_name(f"{base.name}-{n}") for n in range(2, MAX_SLOTS + 1)]


def claim_data_dir(base: Path, *, chosen: bool) -> tuple[DemoLock, tuple[LockInfo, ...]]:
    """Lock `base`, or when it is busy and was not `chosen` by the user, the first free of base-2 … base-9.

    Returns the held lock and the demos found running in the directories passed over.
    Raises DemoBusy when no directory is free (only `base` is tried when it was chosen).
    """
    busy: list[LockInfo] = []
    for directory in slot_dirs(base) if not chosen else [Path(base)]:
        try:
            return DemoLock(directory).acquire(), tuple(busy)
        except DemoBusy as exc:
            busy.extend(exc.holders)
    raise DemoBusy(tuple(busy))
