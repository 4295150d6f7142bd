"""End-to-end benchmark through local mode over real HTTP, with real audio and the real engine.

20 jobs are uploaded and submitted concurrently (presigned PUT + POST /v1/diarize), then awaited.
Printed per job: end-to-end latency (submit -> succeeded seen by the client), the worker's
running time (job startedAt -> finishedAt: the engine plus input fetch and result write) and the
time it waited behind other jobs for the worker. Then jobs per hour and the pipeline overhead:

    overhead = end-to-end - running time - time waiting behind other jobs' running time

i.e. what the pipeline itself adds (API, S3, SQS, dispatcher, launch, status polling). Target:
p50 < 2 s. One warm worker (2 cores: torch uses both), so waiting behind others is exact.

    .venv/bin/python benchmarks/e2e.py [--jobs 20] [--workers 1] [--engine pyannote]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "diarization-dev"
FILES = [
    "ami_ES2003a_0000s_30s.wav",
    "ami_EN2001a_0000s_30s.wav",
    "pyannote_sample_30s.wav",
    "picovoice_falcon_test.wav",
    "ami_EN2005a_0000s_30s.wav",
]


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--engine", default="pyannote", choices=["pyannote", "fake"])
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))

    from diarist.client.api import DiaristClient
    from diarist.local.runtime import LocalConfig, LocalDiarist

    files = [DATA / FILES[i % len(FILES)] for i in range(args.jobs)]
    missing = [f for f in files if not f.exists()]
    if missing:
        print(f"dev set not found: {missing[0]}", file=sys.stderr)
        return 1
    t_start = time.monotonic()
    with LocalDiarist(LocalConfig(engine=args.engine, workers=args.workers)) as local:
        print(f"local mode ready in {time.monotonic() - t_start:.1f} s at {local.api_url}")
        client = DiaristClient(local.api_url, local.api_key)
        # warm-up: one job so the worker has loaded the model (as a long-running service would have)
        warm = client.submit_file(files[0])
        client.wait(warm["jobId"], poll_s=0.1, timeout_s=600)

        results: dict[int, dict] = {}
        barrier = threading.Barrier(args.jobs)

        def run(i: int) -> None:
            barrier.wait()
            t0 = time.time()
            job = client.submit_file(files[i])
            done = client.wait(job["jobId"], poll_s=0.1, timeout_s=3600)
            results[i] = {"submit": t0, "seen_done": time.time(), "job": done, "file": files[i].name}

        threads = [threading.Thread(target=run, args=(i,)) for i in range(args.jobs)]
        wall0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.time() - wall0

    intervals = []
    for r in results.values():
        j = r["job"]
        if j["status"] != "succeeded":
            print(f"job {j['jobId']} {j['status']}: {j.get('error')}")
            continue
        r["run"] = (_ts(j["startedAt"]), _ts(j["finishedAt"]))
        intervals.append(r["run"])
    rows = []
    for i in sorted(results):
        r = results[i]
        if "run" not in r:
            continue
        start, end = r["run"]
        e2e = r["seen_done"] - r["submit"]
        running = end - start
        # time this job spent waiting while the worker ran other jobs
        waiting = sum(
            max(0.0, min(e, start) - max(s, r["submit"])) for s, e in intervals if (s, e) != (start, end)
        ) / max(1, args.workers)
        overhead = e2e - running - waiting
        rows.append((i, r["file"], e2e, running, waiting, overhead))
    print(f"\n{'#':>3} {'file':<28} {'e2e s':>8} {'running s':>10} {'waiting s':>10} {'overhead s':>10}")
    for i, name, e2e, running, waiting, overhead in rows:
        print(f"{i:>3} {name:<28} {e2e:>8.2f} {running:>10.2f} {waiting:>10.2f} {overhead:>10.2f}")
    if not rows:
        return 1
    over = sorted(r[5] for r in rows)
    e2es = sorted(r[2] for r in rows)
    print(f"\njobs: {len(rows)}/{args.jobs} succeeded, workers: {args.workers}, engine: {args.engine}")
    print(f"wall time for the batch: {wall:.1f} s -> {len(rows) / wall * 3600:.0f} jobs/hour")
    print(f"end-to-end latency: p50 {statistics.median(e2es):.2f} s, max {e2es[-1]:.2f} s")
    p90 = over[int(0.9 * (len(over) - 1))]
    print(f"pipeline overhead: p50 {statistics.median(over):.2f} s, p90 {p90:.2f} s (target p50 < 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
