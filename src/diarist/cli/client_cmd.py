"""``diarist submit | status | result | jobs | cancel``: the API client on the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api-url", default=os.environ.get("DIARIST_API_URL"), help="or DIARIST_API_URL")
    p.add_argument("--api-key", default=os.environ.get("DIARIST_API_KEY"), help="or DIARIST_API_KEY")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("submit", help="submit a file or URL for diarization")
    p.add_argument("source", help="a local audio file (uploaded) or an https:// / s3:// URL")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--num-speakers", type=int)
    p.add_argument("--min-speakers", type=int)
    p.add_argument("--max-speakers", type=int)
    p.add_argument("--confidence", action="store_true", help="include 20 ms confidence scores")
    p.add_argument("--webhook", help="URL called when the job ends")
    p.add_argument("--wait", action="store_true", help="wait for the result and print it")
    p.add_argument("--format", choices=["json", "rttm", "csv", "table"], default="table")
    _common(p)
    p.set_defaults(func=_submit)

    p = sub.add_parser("status", help="show a job")
    p.add_argument("job_id")
    _common(p)
    p.set_defaults(func=_status)

    p = sub.add_parser("result", help="print a finished job's result")
    p.add_argument("job_id")
    p.add_argument(
        "--format",
        choices=["json", "rttm", "csv", "table", "vtt", "srt", "txt"],
        default="json",
        help="vtt, srt, txt: the transcript of a job submitted with transcription",
    )
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    _common(p)
    p.set_defaults(func=_result)

    p = sub.add_parser("jobs", help="list your jobs, newest first")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--status")
    p.add_argument("--cursor")
    _common(p)
    p.set_defaults(func=_jobs)

    p = sub.add_parser("cancel", help="cancel a job")
    p.add_argument("job_id")
    _common(p)
    p.set_defaults(func=_cancel)


def _client(args: argparse.Namespace) -> Any:
    from diarist.client.api import DiaristClient

    return DiaristClient.from_env(args.api_url, args.api_key)


def _run(fn: Any, args: argparse.Namespace) -> int:
    from diarist.client.api import DiaristApiError

    try:
        return int(fn(args) or 0)
    except (DiaristApiError, ValueError, TimeoutError) as e:
        print(f"diarist: error: {e}", file=sys.stderr)
        return 1


def render(output: dict[str, Any] | None, fmt: str, file_id: str) -> str:
    from diarist.client import render as r

    if output is None:
        return ""
    if fmt == "json":
        return json.dumps(output, indent=2) + "\n"
    if fmt == "rttm":
        return r.to_rttm(output, file_id)
    if fmt == "csv":
        return r.to_csv(output)
    if fmt == "vtt":
        return r.to_vtt(output)
    if fmt == "srt":
        return r.to_srt(output)
    if fmt == "txt":
        return r.to_text(output)
    return r.to_table(output) + "\n"


def _progress_bar(total_label: str) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=100,
        desc=total_label,
        unit="%",
        file=sys.stderr,
        leave=False,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}",
    )


def wait_with_progress(client: Any, job_id: str) -> dict[str, Any]:
    bar = _progress_bar("diarizing")
    try:
        last: tuple[int, str] | None = None

        def update(job: dict[str, Any]) -> None:
            nonlocal last
            now = (int(job.get("progress") or 0), str(job.get("status", "")))
            if now != last:  # redraw only on change (a log file gets one line per change)
                last = now
                bar.n = now[0]
                bar.set_postfix_str(now[1], refresh=False)
                bar.refresh()

        return dict(client.wait(job_id, on_update=update))
    finally:
        bar.close()


def upload_with_progress(client: Any, path: Path, **params: Any) -> dict[str, Any]:
    from tqdm import tqdm

    size = path.stat().st_size
    with tqdm(total=size, desc="uploading", unit="B", unit_scale=True, file=sys.stderr, leave=False) as bar:

        def progress(sent: int, _total: int) -> None:
            bar.update(sent - bar.n)

        return dict(client.submit_file(path, progress, **params))


def _submit(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        client = _client(a)
        params = {
            "numSpeakers": a.num_speakers,
            "minSpeakers": a.min_speakers,
            "maxSpeakers": a.max_speakers,
            "confidence": a.confidence or None,
            "webhook": a.webhook,
        }
        if "://" in a.source:
            job = client.submit_url(a.source, **params)
            file_id = Path(a.source.split("?")[0]).stem or "audio"
        else:
            path = Path(a.source)
            if not path.is_file():
                raise ValueError(f"no such file: {path}")
            job = upload_with_progress(client, path, **params)
            file_id = path.stem
        job_id = job["jobId"]
        print(f"job {job_id} {job['status']}", file=sys.stderr)
        if not a.wait:
            print(job_id)
            return 0
        done = wait_with_progress(client, job_id)
        if done["status"] != "succeeded":
            err = done.get("error") or {}
            print(
                f"diarist: job {job_id} {done['status']}: {err.get('code', '')} {err.get('message', '')}".rstrip(),
                file=sys.stderr,
            )
            return 1
        sys.stdout.write(render(client.output(done), a.format, file_id))
        return 0

    return _run(go, args)


def _status(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        job = _client(a).job(a.job_id)
        job.pop("output", None)
        print(json.dumps(job, indent=2))
        return 0

    return _run(go, args)


def _result(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        client = _client(a)
        job = client.job(a.job_id)
        if job["status"] != "succeeded":
            raise ValueError(f"job {a.job_id} is {job['status']}, it has no result")
        text = render(client.output(job), a.format, a.job_id)
        if a.output:
            Path(a.output).write_text(text)
        else:
            sys.stdout.write(text)
        return 0

    return _run(go, args)


def _jobs(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        page = _client(a).jobs(limit=a.limit, cursor=a.cursor, status=a.status)
        for j in page.get("items", []):
            print(f"{j.get('id') or j['jobId']}  {j['status']:<9}  {j.get('createdAt', '')}")
        more = page.get("nextCursor") or page.get("cursor")  # "cursor": servers before nextCursor
        if more:
            print(f"(more: --cursor {more})", file=sys.stderr)
        return 0

    return _run(go, args)


def _cancel(args: argparse.Namespace) -> int:
    def go(a: argparse.Namespace) -> int:
        job = _client(a).cancel(a.job_id)
        print(f"job {a.job_id} {job.get('status', 'canceled')}")
        return 0

    return _run(go, args)
