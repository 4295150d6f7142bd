"""A burst of short and long jobs through local mode with the real engine: how few workers serve it,
and what each job pays beyond its diarization.

    python benchmarks/burst.py [--short 20] [--long 5] [--short-s 30] [--long-s 600] [--workers 2]

Builds the inputs from the dev set (../shared/data/diarization-dev: a different 30 s recording per
short job, one 10-minute concatenation for the long ones), starts local mode (the real API,
dispatcher and drain workers, ``--workers`` = the fleet maximum), submits every job at once and
waits for all of them. Then prints:

- launches (worker processes the dispatcher's capacity decision started) and model loads (workers
  that loaded the engine), against the configured maximum;
- per-job overhead = pickup + fetch + result write, excluding diarization: pickup is the time from
  the moment the job could have been taken (queued, and its worker free) to the worker receiving
  it; fetch and write (results to S3 and the final status) come from the worker's own timings
  (``job succeeded`` log line). p50/p99 on warm workers (not a worker's first job), and for all;
- queue wait (submitted -> taken), caller latency (submitted -> terminal) p50/p99 per class (short,
  long), makespan (first submission -> last finish) and jobs per hour; whether the workers exited
  once idle.

Short jobs go to the short work lane, long ones to the long lane (``domain.lanes``: the upload's
size); ``--one-lane`` runs everything through the one FIFO work queue instead (the path before the
lanes), for a comparison on the same machine.

Targets (issue 12): model loads <= launches <= the configured maximum; overhead p50 < 1 s on a warm
worker. Numbers depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import REPO, dev_items
from speed import concat_dev_speech

sys.path.insert(0, str(REPO))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


def _ts(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def worker_lines(launch_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """JSON log lines of each worker process, by its log file."""
    out: dict[str, list[dict[str, Any]]] = {}
    for log in sorted(launch_dir.glob("worker-*.log")):
        lines = []
        for raw in log.read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                try:
                    lines.append(json.loads(raw))
                except json.JSONDecodeError:
                    continue
        out[log.name] = lines
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", type=int, default=20)
    ap.add_argument("--long", type=int, default=5)
    ap.add_argument("--short-s", type=float, default=30.0)
    ap.add_argument("--long-s", type=float, default=600.0)
    ap.add_argument("--workers", type=int, default=2, help="the fleet maximum (diarist local --workers)")
    ap.add_argument("--idle-timeout", type=float, default=15.0, help="workers exit after this long idle")
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--one-lane", action="store_true", help="no short lane: one FIFO work queue")
    ap.add_argument("--long-every", type=int, default=10, help="DIARIST_LONG_LANE_EVERY")
    args = ap.parse_args()
    random.seed(args.seed)

    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.client.api import DiaristClient
    from diarist.local.runtime import LocalConfig, LocalDiarist

    tmp = Path(tempfile.mkdtemp(prefix="diarist-burst-"))
    shorts = sorted({it.path for it in dev_items() if abs(it.duration - args.short_s) < 1.0})
    if not shorts:
        shorts = [concat_dev_speech(tmp / "short.wav", args.short_s)]
    long_path = concat_dev_speech(tmp / "long.wav", args.long_s)
    extra_env = {
        "DIARIST_IDLE_TIMEOUT_S": str(args.idle_timeout),
        "DIARIST_POLL_WAIT_S": "5",
        "DIARIST_NUM_THREADS": "1",  # one torch thread per worker: the workers share the cores
        "DIARIST_LONG_LANE_EVERY": str(args.long_every),
    }
    if args.one_lane:
        extra_env["DIARIST_SHORT_WORK_QUEUE_URL"] = ""
    cfg = LocalConfig(engine="pyannote", workers=args.workers, extra_env=extra_env)
    with LocalDiarist(cfg) as local:
        api = DiaristClient(local.api_url, local.api_key)
        short_urls = [api.upload(p) for p in shorts]
        long_url = api.upload(long_path)
        plan = [("short", short_urls[i % len(short_urls)]) for i in range(args.short)]
        plan += [("long", long_url)] * args.long
        random.shuffle(plan)
        print(
            f"local mode at {local.api_url}; fleet maximum {args.workers}; submitting {args.short} x "
            f"{args.short_s:g} s and {args.long} x {args.long_s:g} s jobs at once; "
            + (
                "one lane (FIFO)"
                if args.one_lane
                else f"two lanes, long lane first after {args.long_every} short"
            ),
            flush=True,
        )
        t0 = time.time()
        kinds = {api.submit_url(url)["jobId"]: kind for kind, url in plan}
        store = DynamoJobStore(local.resources.table)
        ended: dict[str, Any] = {}
        deadline = time.time() + args.timeout
        while len(ended) < len(kinds) and time.time() < deadline:
            for job_id in [j for j in kinds if j not in ended]:
                job = store.get(job_id)
                if job is not None and job.status.is_terminal:
                    ended[job_id] = job
            time.sleep(1)
        print(f"all ended after {time.time() - t0:.0f} s; waiting for the idle exit", flush=True)
        idle_deadline = time.time() + args.idle_timeout + 30
        while local.launcher.running() and time.time() < idle_deadline:
            time.sleep(1)
        exited_idle = not local.launcher.running()
        launches = local.launcher.launches
        logs = worker_lines(local.launcher.launch_dir)

    statuses: dict[str, int] = {}
    for job in ended.values():
        statuses[job.status.value] = statuses.get(job.status.value, 0) + 1
    loads = [line for lines in logs.values() for line in lines if line.get("message") == "drain worker ready"]
    received = {
        line["job_id"]: line
        for lines in logs.values()
        for line in lines
        if line.get("message") == "work received"
    }
    succeeded = {
        line["job_id"]: line
        for lines in logs.values()
        for line in lines
        if line.get("message") == "job succeeded"
    }
    # a worker's jobs in order: its first one paid the model load (cold); the others are warm
    by_worker: dict[str, list[Any]] = {}
    for job in ended.values():
        if job.last_worker_id:
            by_worker.setdefault(job.last_worker_id, []).append(job)
    overhead_warm, overhead_all, parts = [], [], {"pickup": [], "fetch": [], "write": []}
    for jobs in by_worker.values():
        jobs.sort(key=lambda j: _ts(j.started_at))
        previous_end: float | None = None
        for i, job in enumerate(jobs):
            rec, ok = received.get(job.job_id), succeeded.get(job.job_id)
            if rec is None or ok is None or job.queued_at is None:
                previous_end = _ts(job.finished_at) if job.finished_at else previous_end
                continue
            could_start = max(_ts(job.queued_at), previous_end or 0.0)
            pickup = max(0.0, float(rec["received_at"]) - could_start)
            total = pickup + float(ok["fetch_s"]) + float(ok["write_s"])
            overhead_all.append(total)
            if i > 0:
                overhead_warm.append(total)
                parts["pickup"].append(pickup)
                parts["fetch"].append(float(ok["fetch_s"]))
                parts["write"].append(float(ok["write_s"]))
            previous_end = _ts(job.finished_at)
    done = [j for j in ended.values() if j.finished_at and j.started_at]
    waits = [_ts(j.started_at) - _ts(j.created_at) for j in done]
    latency = {
        k: [_ts(j.finished_at) - _ts(j.created_at) for j in done if kinds[j.job_id] == k]
        for k in ("short", "long")
    }
    makespan = (
        max(_ts(j.finished_at) for j in done) - min(_ts(j.created_at) for j in done) if done else float("nan")
    )
    audio_h = (args.short * args.short_s + args.long * args.long_s) / 3600

    print()
    print(f"jobs: {len(kinds)} submitted, by final status {statuses}")
    print(
        f"launches: {launches}   model loads: {len(loads)}   configured maximum: {args.workers}   "
        f"target model loads <= launches <= maximum: {'met' if len(loads) <= launches <= args.workers else 'NOT met'}"
    )
    load_s = [float(line.get("model_load_s", 0)) for line in loads]
    if load_s:
        print(f"model load per worker: {', '.join(f'{x:.1f} s' for x in load_s)}")
    print(
        f"per-job overhead on a warm worker (pickup + fetch + result write, n={len(overhead_warm)}): "
        f"p50 {pct(overhead_warm, 0.5):.3f} s  p99 {pct(overhead_warm, 0.99):.3f} s   target p50 < 1 s: "
        f"{'met' if pct(overhead_warm, 0.5) < 1 else 'NOT met'}"
    )
    for name, values in parts.items():
        print(f"   {name:6s} p50 {pct(values, 0.5):.3f} s  p99 {pct(values, 0.99):.3f} s")
    print(
        f"per-job overhead, all jobs incl. each worker's first (n={len(overhead_all)}): "
        f"p50 {pct(overhead_all, 0.5):.3f} s  p99 {pct(overhead_all, 0.99):.3f} s"
    )
    print(f"queue wait (submitted -> taken): p50 {pct(waits, 0.5):.1f} s  p99 {pct(waits, 0.99):.1f} s")
    for kind, values in latency.items():
        if values:
            print(
                f"caller latency, {kind} jobs (submitted -> terminal, n={len(values)}): "
                f"p50 {pct(values, 0.5):.1f} s  p99 {pct(values, 0.99):.1f} s  max {max(values):.1f} s  "
                f"mean {statistics.mean(values):.1f} s"
            )
    print(
        f"makespan {makespan:.0f} s   jobs/hour {len(done) / makespan * 3600:.0f}   "
        f"audio hours per hour {audio_h / makespan * 3600:.1f}"
    )
    print(f"workers exited once idle ({args.idle_timeout:g} s): {'yes' if exited_idle else 'NO'}")
    return 0 if statuses.get("succeeded", 0) == len(kinds) else 1


if __name__ == "__main__":
    sys.exit(main())
