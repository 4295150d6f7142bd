"""Chaos run through local mode: no job lost or stuck while things break.

N jobs (fake engine) are submitted over real HTTP while, at random:

- worker processes are killed mid-job (SIGKILL: the pool fails the job ``worker_crashed``);
- completion events are refused by "EventBridge" (the workers' EventBridge endpoint is a loopback
  proxy to the emulator that answers ``FailedEntryCount: 1`` for a share of ``PutEvents``): the
  outbox keeps them owed and the sweeper publishes them;
- dispatch messages are dropped from the job queue (received and deleted before the dispatcher
  sees them): the sweeper requeues the job;
- the webhook receiver answers 500 to a share of the deliveries (retried).

Printed: jobs per end state, webhooks delivered, jobs lost or stuck (target 0), and the time from
each injected fault to the job's terminal state (p50/p99). Loopback only; every loop is bounded.
The sweeper's deadlines are shortened for the run (pending 30 s, outbox 2 s, every 2 s). The
dropper's receives count towards the job queue's maxReceiveCount, so a message it receives
three times lands in the job DLQ and its job ends ``launch_failed``: expected, not lost.

    .venv/bin/python benchmarks/chaos.py [--jobs 200] [--workers 2] [--timeout 600]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
import urllib.parse
import wave
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _wav(seconds: float = 2.0, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buf.getvalue()


class Receiver(ThreadingHTTPServer):
    """The customer's webhook endpoint: 500 for a share of the requests, else 200."""

    def __init__(self, fail_share: float) -> None:
        self.fail_share = fail_share
        self.delivered: dict[str, float] = {}
        self.answered_500 = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        job_id = json.loads(body or b"{}").get("jobId", "")
        with self.server.lock:
            fail = random.random() < self.server.fail_share
            if fail:
                self.server.answered_500 += 1
            else:
                self.server.delivered.setdefault(job_id, time.time())
        self.send_response(500 if fail else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class EventsProxy(ThreadingHTTPServer):
    """The workers' EventBridge endpoint: forwards to the emulator, refuses a share of PutEvents."""

    def __init__(self, fail_share: float) -> None:
        self.fail_share = fail_share
        self.refused = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(BaseHTTPRequestHandler):
    server: EventsProxy

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "PutEvents" in self.headers.get("X-Amz-Target", "") and random.random() < self.server.fail_share:
            with self.server.lock:
                self.server.refused += 1
            out = json.dumps(
                {
                    "FailedEntryCount": 1,
                    "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "chaos"}],
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        target = urllib.parse.urlparse(os.environ["AWS_ENDPOINT_URL"])
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        try:
            conn.request("POST", self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker gave up on this request (killed, or its own timeout): it retries
        finally:
            conn.close()

    def log_message(self, *args: Any) -> None:
        pass


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for every job to end")
    ap.add_argument("--kill-every", type=float, default=3.0, help="seconds between worker kills")
    ap.add_argument("--max-kills", type=int, default=15)
    ap.add_argument("--drop-share", type=float, default=0.5, help="of the messages the dropper catches")
    ap.add_argument("--event-fail-share", type=float, default=0.3)
    ap.add_argument("--webhook-fail-share", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    random.seed(args.seed)
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "src"))

    from diarist.adapters.aws import client
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.client.api import DiaristClient
    from diarist.local.runtime import LocalConfig, LocalDiarist

    receiver, proxy = Receiver(args.webhook_fail_share), EventsProxy(args.event_fail_share)
    for server in (receiver, proxy):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    extra_env = {
        "DIARIST_FAKE_BEHAVIOUR": "slow",
        "DIARIST_FAKE_SLOW_S": "0.5",
        "DIARIST_SWEEP_INTERVAL_S": "2",
        "DIARIST_SWEEP_OUTBOX_AFTER_S": "2",
        "DIARIST_SWEEP_PENDING_AFTER_S": "30",
        "DIARIST_SWEEP_WORKER_LOST_AFTER_S": "30",
        "DIARIST_SWEEP_MAX_REQUEUES": "5",
        "DIARIST_WEBHOOK_RETRY_DELAYS_S": "0,1,2,4,8",
        # the worker processes publish through the faulty proxy (the local process's own client
        # was made before, and talks to the emulator directly)
        "AWS_ENDPOINT_URL_EVENTBRIDGE": f"http://127.0.0.1:{proxy.server_address[1]}",
    }
    faults: dict[str, tuple[str, float]] = {}  # job id -> (fault, when): the first fault per job
    stop = threading.Event()
    kills = 0
    t0 = time.time()
    with LocalDiarist(LocalConfig(engine="fake", workers=args.workers, extra_env=extra_env)) as local:
        print(f"local mode ready at {local.api_url}; submitting {args.jobs} jobs", flush=True)
        api = DiaristClient(local.api_url, local.api_key)
        store = DynamoJobStore(local.resources.table)
        sqs = client("sqs")
        queue_url = local.resources.job_queue_url
        path = Path(local._tmp.name) / "chaos.wav" if local._tmp else Path("chaos.wav")  # noqa: SLF001
        path.write_bytes(_wav())
        media_url = api.upload(path)
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"

        def dropper() -> None:
            while not stop.is_set():
                resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
                for m in resp.get("Messages", []):
                    job_id = json.loads(m["Body"]).get("jobId", "")
                    if random.random() < args.drop_share:
                        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
                        faults.setdefault(job_id, ("message dropped", time.time()))
                    else:
                        sqs.change_message_visibility(
                            QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                        )
                stop.wait(0.5)

        def killer() -> None:
            nonlocal kills
            while not stop.wait(args.kill_every) and kills < args.max_kills:
                busy = local.launcher.busy()  # (pid, job id) of the drain workers mid-job
                if not busy:
                    continue
                pid, job_id = random.choice(busy)
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                kills += 1
                faults.setdefault(job_id, ("worker killed", time.time()))

        chaos = [threading.Thread(target=dropper, daemon=True), threading.Thread(target=killer, daemon=True)]
        for t in chaos:
            t.start()
        job_ids: list[str] = []
        for _ in range(args.jobs):
            job_ids.append(api.submit_url(media_url, webhook=hook)["jobId"])
        print(f"submitted in {time.time() - t0:.1f} s", flush=True)

        ended: dict[str, Any] = {}
        deadline = time.time() + args.timeout
        dropping_until = time.time() + 20  # drop messages for a while after the last submission
        while time.time() < deadline and len(ended) < len(job_ids):
            if time.time() > dropping_until:
                stop.set()
            for job_id in [j for j in job_ids if j not in ended]:
                job = store.get(job_id)
                if job is not None and job.status.is_terminal:
                    ended[job_id] = job
            time.sleep(1)
        stop.set()
        # then the events and webhooks of the ended jobs (bounded)
        settle = time.time() + 60
        while time.time() < settle:
            owed = [j for j in ended if (job := store.get(j)) is not None and job.event_owed_at is not None]
            pending_hooks = [
                j for j in ended if (job := store.get(j)) is not None and job.webhook_delivery == "pending"
            ]
            if not owed and not pending_hooks:
                break
            time.sleep(2)
        final = {j: store.get(j) for j in job_ids}

    states = Counter(job.status.value if job else "lost" for job in final.values())
    codes = Counter(job.error.code for job in final.values() if job is not None and job.error is not None)
    stuck = [j for j, job in final.items() if job is None or not job.status.is_terminal]
    owed = [j for j, job in final.items() if job is not None and job.event_owed_at is not None]
    delivered = [j for j in job_ids if j in receiver.delivered]
    print(f"\njobs: {args.jobs} in {time.time() - t0:.0f} s, workers {args.workers}")
    print("end states: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    print("error codes: " + (", ".join(f"{k} {v}" for k, v in sorted(codes.items())) or "none"))
    print(
        f"faults: {sum(1 for f, _ in faults.values() if f == 'message dropped')} messages dropped, "
        f"{kills} workers killed, {proxy.refused} completion events refused, "
        f"{receiver.answered_500} webhook requests answered 500"
    )
    print(f"webhooks delivered: {len(delivered)}/{args.jobs}")
    # a webhook not delivered is either still being retried or given up after every retry (the
    # receiver answered 500 each time: the webhook DLQ holds it); the job record says which
    for j in [j for j in job_ids if j not in receiver.delivered]:
        job = final.get(j)
        if job is not None:
            codes_seen = [a.status_code for a in job.webhook_attempts]
            print(
                f"  not delivered: {j}: {job.webhook_delivery} after {len(codes_seen)} attempts {codes_seen}"
            )
    print(f"jobs lost or stuck: {len(stuck)} (target 0){': ' + ', '.join(stuck[:10]) if stuck else ''}")
    print(f"completion events still owed: {len(owed)}")
    for kind in ("message dropped", "worker killed"):
        times = [
            job.finished_at.timestamp() - at
            for j, (f, at) in faults.items()
            if f == kind and (job := final.get(j)) is not None and job.finished_at is not None
        ]
        if times:
            print(
                f"{kind} -> terminal: n={len(times)} p50 {statistics.median(times):.1f} s, "
                f"p99 {_pct(times, 0.99):.1f} s"
            )
    hook_delays = [
        receiver.delivered[j] - job.finished_at.timestamp()
        for j, job in final.items()
        if job is not None and job.finished_at is not None and j in receiver.delivered
    ]
    if hook_delays:
        print(
            f"terminal -> webhook delivered: p50 {statistics.median(hook_delays):.1f} s, "
            f"p99 {_pct(hook_delays, 0.99):.1f} s"
        )
    receiver.shutdown()
    proxy.shutdown()
    return 0 if not stuck and not owed else 1


if __name__ == "__main__":
    sys.exit(main())
