"""Observability for every Lambda function and the worker: one Powertools ``Logger``, ``Tracer`` and
``Metrics`` per process, owned here and imported from here.

Invariants:

- One log format. ``logger`` writes JSON lines to stderr (stdout stays free for the CLI's output,
  the local worker's protocol and the metrics' EMF lines), to whatever ``sys.stderr`` is when the
  line is written. Library modules keep the usual ``logging.getLogger(__name__)``: their records
  go through the same handler and formatter (installed on the ``diarist`` and ``functions``
  stdlib loggers), so every key appended here is on their lines too, and each line names its
  module (``logger``: ``diarist.services.dispatch`` ...). The one exception is a
  person's terminal: ``set_level(..., console=True)`` (``diarist local``, ``diarist demo``)
  swaps the JSON for one readable line per record, which still ends with the job keys.
- Every line written while a job is being handled carries ``job_id`` and ``tenant_id``: whoever
  starts handling a job (an API request, an SQS record, the worker's run) wraps it in
  ``job_context``. The keys are thread-local (local mode runs several handlers in threads) and
  are gone when the context exits.
- The service name is ``POWERTOOLS_SERVICE_NAME`` (the stack's value, local mode's
  ``diarist-local``), ``diarist`` when unset (the worker); the metrics namespace is ``POWERTOOLS_METRICS_NAMESPACE``, ``Diarist``
  when unset. Metrics are flushed by ``@metrics.log_metrics`` on the handlers that emit any.
- Tracing: ``tracer`` is the X-Ray tracer (the stack turns active tracing on). Outside Lambda
  Powertools disables it by itself, so decorating with it costs nothing in tests, local mode and
  the worker. Only botocore is patched: every AWS call is a subsegment and carries the trace
  header (API -> SQS -> dispatcher in one trace), while outbound HTTP to users' hosts (webhooks,
  input downloads) gets no X-Ray header. Each ``job_context`` is a subsegment annotated with the
  job keys, so a trace is searchable by job (``annotation.job_id``), one record of a batch at a time.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

DEFAULT_SERVICE = "diarist"
DEFAULT_NAMESPACE = "Diarist"
LIBRARY_LOGGERS = ("diarist", "functions")
JOB_KEYS = ("job_id", "tenant_id")


class _CurrentStderr:
    """A stream that writes to ``sys.stderr`` as it is at write time, not as it was at import
    (pytest's capture, a CLI that redirects it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE
logger = Logger(service=_SERVICE, stream=_CurrentStderr())  # type: ignore[arg-type]
tracer = Tracer(service=_SERVICE, patch_modules=("botocore",))
metrics = Metrics(
    service=_SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
)


class ConsoleFormatter(LambdaPowertoolsFormatter):
    """``<time> <logger> <LEVEL> <message> [job_id=... tenant_id=...]`` for a terminal. Keys are
    kept as by the JSON formatter (it is one), only the job keys are shown."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        line = f"{stamp},{int(record.msecs):03d} {record.name} {record.levelname} {record.getMessage()}"
        keys = self.thread_safe_get_current_keys()
        job = " ".join(f"{key}={keys[key]}" for key in JOB_KEYS if keys.get(key))
        if job:
            line += f" [{job}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _name_the_logger(record: logging.LogRecord) -> bool:
    record.logger = record.name
    return True


def _share_handler_with_library_loggers() -> None:
    """Route ``diarist.*`` / ``functions.*`` stdlib records through ``logger``'s handler and
    formatter (which holds the appended keys). ``propagate`` is off so the Lambda runtime's root
    handler does not print each line a second time."""
    logger.registered_handler.addFilter(_name_the_logger)
    handlers = list(logger.handlers)
    for name in LIBRARY_LOGGERS:
        lib = logging.getLogger(name)
        lib.handlers = handlers
        lib.setLevel(logger.log_level)
        lib.propagate = False


_share_handler_with_library_loggers()


def set_level(level: int | str, *, console: bool = False) -> None:
    """One level for ``logger`` and the library loggers (the CLI quiets them; ``-v`` raises them).
    ``console``: readable lines instead of JSON, for a person's terminal (local mode, the demo)."""
    logger.setLevel(level)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logger.log_level)
    if console and not isinstance(logger.registered_formatter, ConsoleFormatter):
        logger.registered_handler.setFormatter(ConsoleFormatter())


@contextmanager
def request_context() -> Iterator[None]:
    """One request (or invocation) in this thread: no job keys come in from the previous one and
    none leak out to the next (local mode serves every request from a few long-lived threads)."""
    logger.thread_safe_remove_keys(list(JOB_KEYS))
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(list(JOB_KEYS))


def tag_tenant(tenant_id: str) -> None:
    """``tenant_id`` on every line this thread writes until its ``request_context`` ends (the API,
    once the caller is authenticated)."""
    logger.thread_safe_append_keys(tenant_id=tenant_id)


@contextmanager
def job_context(job_id: str, tenant_id: str | None = None) -> Iterator[None]:
    """``job_id`` and ``tenant_id`` on every log line written inside, in this thread; in Lambda,
    the work inside is an X-Ray subsegment (``## job``) annotated with them. Nests: on exit the
    keys are as they were before."""
    keys = {"job_id": job_id}
    if tenant_id:
        keys["tenant_id"] = tenant_id
    current = logger.thread_safe_get_current_keys()
    before = {key: current[key] for key in JOB_KEYS if key in current}
    logger.thread_safe_remove_keys(list(JOB_KEYS))
    logger.thread_safe_append_keys(**keys)
    try:
        with tracer.provider.in_subsegment(name="## job") as subsegment:
            if subsegment is not None:  # None: no segment to attach to (X-Ray logged why)
                for key, value in keys.items():
                    subsegment.put_annotation(key, value)
            yield
    finally:
        logger.thread_safe_remove_keys(list(JOB_KEYS))
        if before:
            logger.thread_safe_append_keys(**before)
