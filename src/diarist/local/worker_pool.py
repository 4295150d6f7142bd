"""Local mode's launcher (``ports.Launcher``) in place of AWS Batch: a pool of warm worker processes.

Batch starts one container per job; on one machine that would reload torch and the models for
every job (seconds each). Instead each pool slot is a long-lived process
(``python -m diarist.local.worker_proc``) that loads the engine once and then runs the very same
worker code as the container (``diarist.worker``) for each job it is handed, one at a time.

Like Batch, a job waits in the queue until a slot is free (``created`` until the worker marks it
``running``), and ``terminate`` stops it (the process is killed and replaced). A worker process
that dies mid-job is handed to ``services.failures.handle_worker_exit``, which fails the job if it
is still not terminal (``worker_crashed`` and the exit code), as the Batch state-change handler
does in AWS; not while local mode is stopping, when the job is left for the next start
(``local.state.resume_interrupted``). One pool per process (``start_pool``): the dispatcher and the API's cancel share it
(``diarist.launchers.build_launcher``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from diarist.domain.messages import WorkerSpec
from diarist.ports import EventBus, JobStore
from diarist.services.failures import handle_worker_exit

log = logging.getLogger(__name__)

_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def launch_id_for(job_id: str) -> str:
    return f"local-{job_id}"


class _Slot:
    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.proc: subprocess.Popen[str] | None = None
        self.current: WorkerSpec | None = None
        self.killed_for: str | None = None
        self._log: IO[str] | None = None
        self.thread = threading.Thread(target=self._loop, name=f"local-worker-{index}", daemon=True)

    @property
    def log_path(self) -> Path:
        return self.pool.log_dir / f"worker-{self.index}.log"

    def _spawn(self) -> subprocess.Popen[str]:
        self.pool.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "a")  # noqa: SIM115
        return subprocess.Popen(
            [sys.executable, "-m", "diarist.local.worker_proc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
            env=dict(os.environ),
            start_new_session=True,  # Ctrl-C in the terminal goes to local mode, which stops us
        )

    def _ensure_proc(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._spawn()
            ready = self.proc.stdout.readline() if self.proc.stdout else ""
            if not ready.startswith("ready"):
                rc = self.proc.wait()
                raise RuntimeError(f"local worker failed to start (exit {rc}); see {self.pool.log_dir}")
        return self.proc

    def _loop(self) -> None:
        while not self.pool.stopping.is_set():
            try:
                spec = self.pool.jobs.get(timeout=0.5)
            except queue.Empty:
                continue
            if spec.job_id in self.pool.dropped:
                self.pool.dropped.discard(spec.job_id)
                continue
            self.current, self.killed_for = spec, None
            try:
                proc = self._ensure_proc()
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(spec.model_dump_json() + "\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
                if not line:  # the process died mid-job
                    rc = proc.wait()
                    self._died(spec, rc)
            except (BrokenPipeError, RuntimeError, OSError) as e:
                log.error("local worker slot %d: %s", self.index, e)
                self._died(spec, self.proc.poll() if self.proc else None)
            finally:
                self.current = None

    def _died(self, spec: WorkerSpec, rc: int | None) -> None:
        if self.killed_for == spec.job_id:
            return  # terminated on purpose (cancel): the job already says so
        if self.pool.stopping.is_set():
            # local mode is stopping: the job is left running, for the next start with the same
            # --data-dir to settle ("local mode stopped while this job was running", local.state)
            return
        job = handle_worker_exit(
            self.pool.store, self.pool.events, spec.job_id, rc, log_hint=str(self.log_path)
        )
        if job is not None and job.error is not None:
            log.warning("job %s: %s", spec.job_id, job.error.message)

    def kill(self, job_id: str) -> bool:
        if self.current is not None and self.current.job_id == job_id and self.proc is not None:
            self.killed_for = job_id
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
            return True
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (subprocess.TimeoutExpired, OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self._log:
            self._log.close()


class WorkerPool:
    """``size`` slots, each one warm process running one job at a time; worker logs in ``log_dir``.
    ``store`` and ``events`` are for failing the job of a worker that died."""

    def __init__(self, size: int, log_dir: Path, store: JobStore, events: EventBus) -> None:
        self.log_dir = log_dir
        self.store = store
        self.events = events
        self.jobs: queue.Queue[WorkerSpec] = queue.Queue()
        self.dropped: set[str] = set()
        self.stopping = threading.Event()
        self.slots = [_Slot(self, i) for i in range(max(1, size))]
        for slot in self.slots:
            slot.thread.start()

    def launch(self, spec: WorkerSpec) -> str:
        self.jobs.put(spec)
        return launch_id_for(spec.job_id)

    def find_launch(self, spec: WorkerSpec) -> str | None:
        """The launch of this job if it is queued or running here (a dispatcher retry adopts it)."""
        queued = {s.job_id for s in list(self.jobs.queue)} - self.dropped
        running = {slot.current.job_id for slot in self.slots if slot.current is not None}
        return launch_id_for(spec.job_id) if spec.job_id in queued | running else None

    def terminate(self, launch_id: str, reason: str) -> None:
        job_id = launch_id.removeprefix("local-")
        for slot in self.slots:
            if slot.kill(job_id):
                log.info("terminated local worker for job %s: %s", job_id, reason)
                return
        self.dropped.add(job_id)  # still queued: never start it

    def shutdown(self) -> None:
        self.stopping.set()
        for slot in self.slots:
            slot.stop()


def get_pool() -> WorkerPool | None:
    """The pool ``diarist local`` started in this process, if any."""
    return _POOL


def start_pool(size: int, log_dir: Path, store: JobStore, events: EventBus) -> WorkerPool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = WorkerPool(size, log_dir, store, events)
        return _POOL


def shutdown_workers() -> None:
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown()
            _POOL = None
