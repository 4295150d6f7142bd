"""1,000 submissions (POST /v1/diarize) through the API Lambda handler, in-process, against a moto
server this script starts (a separate process, so the emulator does not share the handler's GIL).
Prints p50/p99 latency and submissions per second (target: p99 < 100 ms), and how much of each
request was spent waiting for the emulator (DynamoDB + SQS calls) versus in Diarist's own code.

    python benchmarks/api_load.py [-n 1000] [--idempotency] [--limits]

Every submission does what it does in AWS: authenticate (cached after the first call), a conditional
put of the job, an SQS send (and with --idempotency, a conditional put of the IDEM# record; with
--limits, the request counted in the tenant's minute and an active-job slot claimed before the job
is written).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return proc, f"http://127.0.0.1:{port}"
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("moto server did not start")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--idempotency", action="store_true", help="send an Idempotency-Key with each request")
    ap.add_argument("--profile", action="store_true", help="cProfile the measured requests")
    ap.add_argument(
        "--limits",
        action="store_true",
        help="per-tenant limits on (set high enough never to refuse): every request counted, every job "
        "takes an active-job slot (local mode's default is no limits)",
    )
    args = ap.parse_args()

    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(var, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="diarist-bench",
        POWERTOOLS_METRICS_NAMESPACE="DiaristBench",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")

    server, endpoint = start_moto()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    aws_s: list[float] = []
    per_op: dict[str, list[float]] = {}
    try:
        import botocore.client

        base: Any = botocore.client.BaseClient
        real_call = base._make_api_call

        def timed_call(self: Any, operation: str, params: Any) -> Any:
            t = time.perf_counter()
            try:
                return real_call(self, operation, params)
            finally:
                if aws_s:
                    dt = time.perf_counter() - t
                    aws_s[-1] += dt
                    per_op.setdefault(operation, []).append(dt * 1000)

        base._make_api_call = timed_call

        from diarist.local.provision import provision

        os.environ.update(provision().env())
        if args.limits:
            total = args.n + args.warmup + 10
            os.environ["DIARIST_MAX_ACTIVE_JOBS_PER_TENANT"] = str(min(total, 5000))
            os.environ["DIARIST_REQUESTS_PER_MINUTE_PER_TENANT"] = str(total)

        from functions.api import deps
        from functions.api.handler import lambda_handler
        from tests.api.events import LambdaContext, rest_event

        _, key = deps.apikey_service().create("bench", "api_load")
        ctx = LambdaContext()
        sink = io.StringIO()

        def one(i: int) -> float:
            headers = {"Idempotency-Key": f"bench-{i}"} if args.idempotency else None
            event = rest_event(
                "POST",
                "/v1/diarize",
                body={"url": f"https://audio.example.com/{i}.wav", "numSpeakers": 2},
                token=key,
                headers=headers,
            )
            aws_s.append(0.0)
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(sink):  # the EMF metrics line Lambda would log
                resp = lambda_handler(event, ctx)
            dt = time.perf_counter() - t0
            if resp["statusCode"] != 200:
                raise SystemExit(f"request {i} failed: {resp['statusCode']} {resp['body']}")
            return dt

        for i in range(args.warmup):
            one(-1 - i)
        aws_s.clear()
        per_op.clear()
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        start = time.perf_counter()
        lat = [one(i) for i in range(args.n)]
        wall = time.perf_counter() - start
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    finally:
        server.terminate()
        server.wait(timeout=10)

    lat_ms = sorted(x * 1000 for x in lat)
    q = statistics.quantiles(lat_ms, n=100)
    p50, p99 = statistics.median(lat_ms), q[98]
    print(
        f"submissions: {args.n} (in-process handler, moto server, idempotency={'on' if args.idempotency else 'off'}, "
        f"per-tenant limits={'on' if args.limits else 'off'})"
    )
    print(f"latency ms: p50 {p50:.1f}  p90 {q[89]:.1f}  p99 {p99:.1f}  max {lat_ms[-1]:.1f}")
    own_ms = sorted((t - a) * 1000 for t, a in zip(lat, aws_s, strict=True))
    aws_ms = sorted(a * 1000 for a in aws_s)
    print(
        f"  of which emulator calls: p50 {statistics.median(aws_ms):.1f} ms; Diarist's own code: "
        f"p50 {statistics.median(own_ms):.1f}  p99 {statistics.quantiles(own_ms, n=100)[98]:.1f} ms"
    )
    ops = ", ".join(f"{op} p50 {statistics.median(v):.1f}" for op, v in sorted(per_op.items()))
    print(f"  emulator calls per request: {sum(map(len, per_op.values())) / args.n:.1f} ({ops} ms)")
    print(f"throughput: {args.n / wall:.0f} submissions/s (one client, sequential)")
    print(f"target p99 < 100 ms: {'met' if p99 < 100 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
