"""Local launcher (``ports.Launcher``): one ``python -m diarist worker`` process per job, as a
Batch job would run, on this machine.

``diarist local`` itself uses the warm pool (``local.worker_pool``); this launcher serves a
process that has no pool (``DIARIST_LAUNCHER=local`` outside ``diarist local``, the tests). Its
launch id is ``local-<pid>``, so another process (the API's cancel) can stop a worker it did not
start. Nothing polls it on its own: its owner hands each exit from ``poll_finished()`` to
``services.failures.handle_worker_exit``, which fails a job whose worker died without reporting.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from diarist.domain.launches import worker_environment
from diarist.domain.messages import WorkerSpec
from diarist.ports import LaunchFailed

log = logging.getLogger(__name__)


@dataclass
class _LocalWorker:
    job_id: str
    tenant_id: str
    process: subprocess.Popen[bytes]
    log_path: Path
    reported: bool = False


class LocalLauncher:
    """The worker gets the current environment (so the same ``AWS_ENDPOINT_URL`` / ``DIARIST_*``)
    and writes its output to ``log_path(job_id)`` in ``launch_dir``."""

    def __init__(
        self,
        launch_dir: str | Path,
        *,
        python: str = sys.executable,
        extra_env: Mapping[str, str] | None = None,
        kill_grace_s: float = 10.0,
    ) -> None:
        self.launch_dir = Path(launch_dir)
        self.launch_dir.mkdir(parents=True, exist_ok=True)
        self.python = python
        self.extra_env = dict(extra_env or {})
        self.kill_grace_s = kill_grace_s
        self._workers: dict[int, _LocalWorker] = {}
        self._lock = threading.Lock()

    def command(self, spec: WorkerSpec) -> list[str]:
        return [self.python, "-m", "diarist", *spec.command()[1:]]

    def launch(self, spec: WorkerSpec) -> str:
        log_path = self.log_path(spec.job_id)
        env = {**os.environ, **self.extra_env, **worker_environment(spec)}
        try:
            with open(log_path, "ab") as out:
                proc = subprocess.Popen(
                    self.command(spec),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
        except OSError as e:
            raise LaunchFailed(f"could not start the local worker: {e}") from e
        with self._lock:
            self._workers[proc.pid] = _LocalWorker(spec.job_id, spec.tenant_id, proc, log_path)
        log.info("local worker started", extra={"job_id": spec.job_id, "pid": proc.pid, "log": str(log_path)})
        return f"local-{proc.pid}"

    def find_launch(self, spec: WorkerSpec) -> str | None:
        pid = self.running().get(spec.job_id)
        return f"local-{pid}" if pid is not None else None

    def terminate(self, launch_id: str, reason: str) -> None:
        pid = _pid_of(launch_id)
        if pid is None:
            return
        with self._lock:
            worker = self._workers.get(pid)
        if worker is None:
            # started by another launcher instance or process: only signal a diarist worker process
            if _is_diarist_worker(pid):
                log.info("terminating local worker started elsewhere", extra={"pid": pid, "reason": reason})
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
            else:
                log.info("terminate: no such local worker", extra={"launch_id": launch_id})
            return
        proc = worker.process
        if proc.poll() is not None:
            return
        log.info("terminating local worker", extra={"job_id": worker.job_id, "pid": pid, "reason": reason})
        proc.send_signal(signal.SIGTERM)

        def _escalate() -> None:
            try:
                proc.wait(timeout=self.kill_grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()

        threading.Thread(target=_escalate, name=f"kill-{pid}", daemon=True).start()

    def poll_finished(self) -> list[tuple[str, int]]:
        """Workers that exited since the last call, each reported once: ``[(job_id, returncode)]``."""
        done: list[tuple[str, int]] = []
        with self._lock:
            for worker in self._workers.values():
                if worker.reported:
                    continue
                rc = worker.process.poll()
                if rc is not None:
                    worker.reported = True
                    done.append((worker.job_id, rc))
            for pid in [p for p, w in self._workers.items() if w.reported]:
                del self._workers[pid]
        return done

    def running(self) -> dict[str, int]:
        """Job id -> pid of the workers still running."""
        with self._lock:
            return {w.job_id: pid for pid, w in self._workers.items() if w.process.poll() is None}

    def log_path(self, job_id: str) -> Path:
        return self.launch_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', job_id)}.log"


def _is_diarist_worker(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"diarist" in argv and b"worker" in argv


def _pid_of(launch_id: str) -> int | None:
    if not launch_id.startswith("local-"):
        return None
    try:
        return int(launch_id[len("local-") :])
    except ValueError:
        return None
