"""Observability for every Lambda function and the worker: one Powertools ``Logger``, ``Tracer`` and
``Metrics`` per process, owned here and imported from here.

Invariants:

- One log format. ``logger`` writes JSON lines to stderr (stdout stays free for the CLI's output
  and for the metrics' EMF lines). Library modules keep the usual ``logging.getLogger(__name__)``:
  their records go through the same handler and formatter (installed on the ``diarist`` and
  ``functions`` stdlib loggers), so every key appended here is on their lines too.
- Every line written while a job is being handled carries ``job_id`` and ``tenant_id``: whoever
  starts handling a job (an API request, an SQS record, the worker's run) wraps it in
  ``job_context``. The keys are thread-local (local mode runs several handlers in threads).
- The service name is ``POWERTOOLS_SERVICE_NAME`` (the stack sets one per function, local mode
  ``diarist-local``, the worker image ``diarist-worker``); the metrics namespace is
  ``POWERTOOLS_METRICS_NAMESPACE``, ``Diarist`` when unset.
- Tracing: ``tracer`` is the X-Ray tracer (the stack turns active tracing on). Outside Lambda
  Powertools disables it by itself, so decorating with it costs nothing in tests and local mode.
  ``job_context`` also annotates the current segment with the job id, so a trace is searchable by
  job (``annotation.job_id``), and boto3 calls are traced: API -> SQS -> dispatcher in one trace.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from aws_lambda_powertools import Logger, Metrics, Tracer

DEFAULT_NAMESPACE = "Diarist"
LIBRARY_LOGGERS = ("diarist", "functions")

logger = Logger(stream=sys.stderr)
tracer = Tracer()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE)


def _share_handler_with_library_loggers() -> None:
    """Route ``diarist.*`` / ``functions.*`` stdlib records through ``logger``'s handler and
    formatter (which holds the appended keys). ``propagate`` is off so the Lambda runtime's root
    handler does not print each line a second time."""
    handlers = list(logger.handlers)
    for name in LIBRARY_LOGGERS:
        lib = logging.getLogger(name)
        lib.handlers = handlers
        lib.setLevel(logger.log_level)
        lib.propagate = False


_share_handler_with_library_loggers()


def set_level(level: int | str) -> None:
    """One level for ``logger`` and the library loggers (the CLI quiets them; ``-v`` raises them)."""
    logger.setLevel(level)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logger.log_level)


@contextmanager
def job_context(job_id: str, tenant_id: str | None = None) -> Iterator[None]:
    """``job_id`` and ``tenant_id`` on every log line written inside, in this thread; the X-Ray
    segment annotated with them (in Lambda)."""
    keys = {"job_id": job_id}
    if tenant_id:
        keys["tenant_id"] = tenant_id
    logger.thread_safe_append_keys(**keys)
    for key, value in keys.items():
        with suppress(Exception):  # no current segment (outside a traced handler): nothing to annotate
            tracer.put_annotation(key=key, value=value)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(list(keys))
