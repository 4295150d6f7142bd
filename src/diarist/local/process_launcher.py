"""Local launcher (``ports.Launcher``): each "Batch job" is its own OS process running
``python -m diarist worker --drain``, as the container does in AWS.

Local mode runs exactly the AWS path: the dispatcher's capacity decision (``services.fleet``)
calls ``launch`` for each worker the backlog needs, up to ``diarist local --workers N``; a worker
loads the model once, drains the work queue and exits when idle (``worker.drain``). Its launch id
is ``local-<pid>`` (another process, e.g. the sweeper's, can ask about or stop it); its log is
``<launch dir>/worker-<worker id>.log``. A worker writes the id of the job it runs to
``<launch dir>/worker-<worker id>.job``, so when one exits without reporting (crash, kill),
``reap`` fails that job through ``services.failures.handle_worker_exit`` as the Batch
state-change handler does in AWS, takes the worker out of the fleet and asks for capacity again.
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from diarist.domain.launches import worker_environment
from diarist.domain.messages import WorkerSpec
from diarist.ports import EventBus, JobStore, LaunchFailed, WorkerFleet, WorkerStatus

log = logging.getLogger(__name__)

EXIT_TERMINATED = 128 + signal.SIGTERM


@dataclass
class _LocalWorker:
    worker_id: str
    process: subprocess.Popen[bytes]
    log_path: Path
    job_file: Path
    reported: bool = False


@dataclass(frozen=True)
class WorkerExit:
    """A worker process that exited: its id, exit code, and the job it was running (if any)."""

    worker_id: str
    launch_id: str
    returncode: int
    job_id: str | None
    log_path: Path
    took_a_job: bool = True  # False: it exited before it ever took a job

    def start_failure(self) -> str | None:
        """Why this worker never got going (it exited with an error before taking any job), with
        the last lines of its log; ``None`` if it ran or stopped normally."""
        if self.took_a_job or self.returncode in (0, EXIT_TERMINATED):
            return None
        last = ""
        with contextlib.suppress(OSError):
            lines = [x.strip() for x in self.log_path.read_text(errors="replace").splitlines() if x.strip()]
            last = " | ".join(lines[-4:])[-500:]
        how = f"signal {-self.returncode}" if self.returncode < 0 else f"code {self.returncode}"
        return (
            f"the worker exited with {how} before taking a job"
            + (f": {last}" if last else "")
            + (f" (log: {self.log_path})")
        )


class LocalLauncher:
    """The worker gets the current environment (so the same ``AWS_ENDPOINT_URL`` / ``DIARIST_*``)
    plus its worker id, and writes its output to ``launch_dir``."""

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
        self.launches = 0

    def command(self, spec: WorkerSpec) -> list[str]:
        return [self.python, "-m", "diarist", *spec.command()[1:]]

    def launch(self, spec: WorkerSpec) -> str:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.worker_id)
        log_path = self.launch_dir / f"worker-{name}.log"
        job_file = self.launch_dir / f"worker-{name}.job"
        env = {
            **os.environ,
            **self.extra_env,
            **worker_environment(spec),
            "DIARIST_WORKER_CURRENT_FILE": str(job_file),
            "DIARIST_WORKER_LOG_FILE": str(log_path),
        }
        try:
            with open(log_path, "ab") as out:
                proc = subprocess.Popen(
                    self.command(spec),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    start_new_session=True,  # Ctrl-C in the terminal goes to local mode, which stops us
                )
        except OSError as e:
            raise LaunchFailed(f"could not start the local worker: {e}") from e
        with self._lock:
            self._workers[proc.pid] = _LocalWorker(spec.worker_id, proc, log_path, job_file)
            self.launches += 1
        log.info(
            "local worker started", extra={"worker_id": spec.worker_id, "pid": proc.pid, "log": str(log_path)}
        )
        return f"local-{proc.pid}"

    def status(self, launch_id: str) -> WorkerStatus:
        pid = _pid_of(launch_id)
        if pid is None:
            return WorkerStatus.GONE
        with self._lock:
            worker = self._workers.get(pid)
        if worker is not None:
            rc = worker.process.poll()
            if rc is None:
                return WorkerStatus.RUNNING
            return WorkerStatus.ENDED if rc == 0 else WorkerStatus.FAILED
        return WorkerStatus.RUNNING if _is_diarist_worker(pid) else WorkerStatus.GONE

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
            return
        self._stop(worker, reason)

    def _stop(self, worker: _LocalWorker, reason: str) -> None:
        proc = worker.process
        if proc.poll() is not None:
            return
        log.info(
            "terminating local worker",
            extra={"worker_id": worker.worker_id, "pid": proc.pid, "reason": reason},
        )
        proc.send_signal(signal.SIGTERM)

        def _escalate() -> None:
            try:
                proc.wait(timeout=self.kill_grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()

        threading.Thread(target=_escalate, name=f"kill-{proc.pid}", daemon=True).start()

    def poll_finished(self) -> list[WorkerExit]:
        """Workers that exited since the last call, each reported once."""
        done: list[WorkerExit] = []
        with self._lock:
            for pid, worker in self._workers.items():
                if worker.reported:
                    continue
                rc = worker.process.poll()
                if rc is None:
                    continue
                worker.reported = True
                job_id = None
                with contextlib.suppress(OSError):
                    job_id = worker.job_file.read_text().strip() or None
                done.append(
                    WorkerExit(
                        worker.worker_id,
                        f"local-{pid}",
                        rc,
                        job_id,
                        worker.log_path,
                        took_a_job=worker.job_file.exists(),
                    )
                )
            for pid in [p for p, w in self._workers.items() if w.reported]:
                del self._workers[pid]
        return done

    def reap(
        self,
        store: JobStore,
        events: EventBus,
        fleet: WorkerFleet,
        *,
        ensure_capacity: Callable[[], object] | None = None,
    ) -> list[WorkerExit]:
        """Settle the workers that exited: one that died mid-job (not by our SIGTERM, after which
        it gave its job back) fails that job ``worker_crashed``; one that exited with an error
        before taking any job is a failed start (``WorkerFleet.start_failed``: the sweeper fails
        the waiting jobs after a few in a row, as the Batch event handler has it counted in AWS);
        every exited worker leaves the fleet; if one did not exit cleanly, capacity is decided
        again for the jobs still queued."""
        from diarist.domain.jobs import utcnow
        from diarist.services.failures import handle_worker_exit

        exits = self.poll_finished()
        for ex in exits:
            start_failure = ex.start_failure()
            if start_failure is not None:
                log.warning("local worker could not start: %s", start_failure)
                fleet.start_failed(ex.worker_id, start_failure, at=utcnow())
            else:
                fleet.leave(ex.worker_id)
            if ex.job_id and ex.returncode not in (0, EXIT_TERMINATED):
                job = handle_worker_exit(store, events, ex.job_id, ex.returncode, log_hint=str(ex.log_path))
                if job is not None and job.error is not None:
                    log.warning("job %s: %s", ex.job_id, job.error.message)
        if ensure_capacity is not None and any(ex.returncode != 0 for ex in exits):
            ensure_capacity()
        return exits

    def busy(self) -> list[tuple[int, str]]:
        """``(pid, job id)`` of the running workers that are working on a job right now."""
        with self._lock:
            workers = [(pid, w) for pid, w in self._workers.items() if w.process.poll() is None]
        found = []
        for pid, w in workers:
            with contextlib.suppress(OSError):
                job_id = w.job_file.read_text().strip()
                if job_id:
                    found.append((pid, job_id))
        return found

    def running(self) -> dict[str, int]:
        """Worker id -> pid of the workers still running."""
        with self._lock:
            return {w.worker_id: pid for pid, w in self._workers.items() if w.process.poll() is None}

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop every worker (SIGTERM: each gives its job back), SIGKILL after ``timeout_s``."""
        with self._lock:
            workers = [w for w in self._workers.values() if w.process.poll() is None]
        for w in workers:
            with contextlib.suppress(ProcessLookupError):
                w.process.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                w.process.kill()
                w.process.wait()


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
