"""Local mode: the whole service on one machine, no AWS account, no Docker.

What runs where (the same handler and worker code as in AWS; nothing is reimplemented):

- a moto server on 127.0.0.1 (a free port) speaks the AWS APIs; ``provision`` creates the
  resources the CDK stack defines;
- the API Lambda handler is served over real HTTP (``apigw.ApiGatewayServer``);
- SQS pollers play Lambda's event-source mappings: job queue -> dispatcher, job DLQ -> the
  dispatcher's DLQ handler, ingest queue (S3 ``incoming/`` events via EventBridge) -> ingest,
  webhook queue (completion events via EventBridge) -> webhook delivery; a schedule poller runs
  the sweeper every ``DIARIST_SWEEP_INTERVAL_S`` (10 s), as the EventBridge schedule does in AWS;
- the dispatcher makes the same capacity decision as in AWS (``services.fleet``, at most
  ``--workers`` drain workers); its launcher starts each "Batch job" as its own OS process running
  ``diarist worker --drain`` (``local.process_launcher``, chosen by
  ``diarist.launchers.build_launcher``), which loads the model once, drains the work queue and
  exits when idle; a reaper (every 0.5 s) fails the job of a worker that died without reporting
  (``services.failures.handle_worker_exit``, as Batch's state-change handler does in AWS).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCAL_TENANT = "local"
ENV_FILE_NAME = "local.env"  # in --data-dir (else the temporary work dir): see _write_env_file


@dataclass
class LocalConfig:
    port: int = 0
    api_key: str | None = None
    webhook_secret: str | None = None
    data_dir: Path | None = None
    engine: str = "pyannote"  # or "fake" (tests of the plumbing)
    workers: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    no_auth: bool = False  # requests without Authorization act as the local tenant (local.no_auth)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalDiarist:
    """Start with ``with LocalDiarist(LocalConfig()) as local: ...`` or ``start()`` / ``stop()``."""

    def __init__(self, config: LocalConfig | None = None) -> None:
        self.config = config or LocalConfig()
        self.api_url = ""
        self.api_key = ""
        self.webhook_secret = ""
        self.tenant_id = LOCAL_TENANT
        self._moto: Any = None
        self._api: Any = None
        self._pollers: list[Any] = []
        self.launcher: Any = None
        self.fleet: Any = None
        self.scaler: Any = None
        self._store: Any = None
        self._bus: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.resources: Any = None
        self.env_file: Path | None = None

    # -- environment ------------------------------------------------------------------------------
    def _setenv(self, values: dict[str, str]) -> None:
        for k, v in values.items():
            self._saved_env.setdefault(k, os.environ.get(k))
            os.environ[k] = v

    def _restore_env(self) -> None:
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env.clear()

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> LocalDiarist:
        import warnings

        # Powertools warns on every invocation that published no custom metric; noise here.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        # The emulator answers CORS as the buckets' rules say (provision.allow_browser_origins), as
        # S3 does, not for every origin (moto's default). Read when moto is first imported: a process
        # that imported it earlier (a test session) keeps moto's permissive default.
        self._setenv({"MOTO_DISABLE_GLOBAL_CORS": "true"})
        from moto.server import ThreadedMotoServer

        from diarist.adapters.aws import reset_clients
        from diarist.local.emulator import make_writes_atomic
        from diarist.settings import load

        make_writes_atomic()  # the emulator's conditional writes, atomic as DynamoDB's
        cfg = self.config
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
        self._moto.start()
        if not logging.getLogger().isEnabledFor(logging.INFO):
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the emulator's request log
        host, port = self._moto.get_host_and_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="diarist-local-")
        work = Path(self._tmp.name)
        api_port = cfg.port or _free_port()
        self.api_url = f"http://127.0.0.1:{api_port}"
        self._setenv(
            {
                "AWS_ENDPOINT_URL": f"http://{host}:{port}",
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                "POWERTOOLS_SERVICE_NAME": "diarist-local",
                "POWERTOOLS_METRICS_NAMESPACE": "DiaristLocal",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
                "PYANNOTE_METRICS_ENABLED": "0",
                "HF_HUB_OFFLINE": "1",
            }
        )
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            if var in os.environ:
                self._saved_env.setdefault(var, os.environ.pop(var))
        reset_clients()
        load.cache_clear()

        from diarist.local.provision import allow_browser_origins, provision

        self.resources = provision()
        # the web console, served by the API, uploads to and plays from the buckets
        allow_browser_origins(self.resources, [self.api_url, self.api_url.replace("127.0.0.1", "localhost")])
        self._setenv(self.resources.env())
        self._setenv(
            {
                "DIARIST_LAUNCHER": "local",
                "DIARIST_LOCAL_LAUNCH_DIR": str(work / "workers"),
                "DIARIST_FLEET_MAX_WORKERS": str(max(1, cfg.workers)),
                # a local worker starts in seconds (no Batch placement)
                "DIARIST_FLEET_START_GRACE_S": "120",
                "DIARIST_ENGINE": cfg.engine,
                # Local mode only: inputs and webhooks on this machine are allowed (plain http, loopback).
                "DIARIST_ALLOW_HTTP": "true",
                "DIARIST_ALLOW_PRIVATE_NETWORKS": "true",
                "DIARIST_PUBLIC_BASE_URL": self.api_url,
                **cfg.extra_env,
            }
        )
        load.cache_clear()

        restored = 0
        if cfg.data_dir:
            from diarist.local import state

            restored = state.load(self.resources, cfg.data_dir)
            if restored:
                log.info("restored %d records from %s", restored, cfg.data_dir)

        from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
        from diarist.adapters.dynamo_jobs import DynamoJobStore
        from diarist.adapters.events import EventBridgeBus
        from diarist.launchers import local_launcher
        from diarist.services.fleet import FleetScaler
        from diarist.settings import FleetSettings

        store, bus = DynamoJobStore(self.resources.table), EventBridgeBus(self.resources.event_bus)
        self.fleet = DynamoWorkerFleet(self.resources.table)
        self.launcher = local_launcher(str(work / "workers"))
        self.scaler = FleetScaler(self.fleet, self.launcher, load(FleetSettings).fleet_policy())
        self._store, self._bus = store, bus
        if restored:
            # jobs in progress at the last stop: waiting ones go on, running ones end failed
            resumed = state.resume_interrupted(self.resources, scaler=self.scaler, store=store, events=bus)
            if resumed.requeued or resumed.relaunched:
                log.warning(
                    "%d job(s) were waiting when local mode stopped: queued again",
                    len(resumed.requeued) + len(resumed.relaunched),
                )
            if resumed.failed:
                log.warning("%d job(s) were running when local mode stopped: failed", len(resumed.failed))
        self._ensure_credentials()
        self._start_api(api_port)
        self._start_pollers()
        self.env_file = self._write_env_file((cfg.data_dir or work) / ENV_FILE_NAME)
        if not logging.getLogger().isEnabledFor(logging.INFO):
            # The handlers log at INFO for CloudWatch; on a terminal only warnings are useful.
            logging.getLogger("diarist").setLevel(logging.WARNING)
        return self

    def _write_env_file(self, path: Path) -> Path:
        """The variables the admin commands need to reach this local mode (``--env-file``,
        ``cli.env_file``): the emulator's endpoint, its dummy credentials and region, every
        ``DIARIST_*`` name the functions read, and the API's URL and key for the client commands.
        Owner-only (it holds the API key); rewritten at every start (the endpoint's port changes)."""
        names = {
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "AWS_REGION",
            *self.resources.env(),
        }
        values = {name: os.environ[name] for name in sorted(names) if name in os.environ}
        values["DIARIST_API_URL"] = self.api_url
        values["DIARIST_API_KEY"] = self.api_key
        lines = [
            "# Diarist local mode: `diarist keys|tenants ... --env-file <this file>` reach it;",
            "# rewritten at every start of `diarist local` (the emulator's port changes).",
            *(f"{name}={value}" for name, value in values.items()),
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(path, 0o600)  # an existing file keeps its mode through O_TRUNC
        return path

    def _ensure_credentials(self) -> None:
        from diarist import wiring
        from diarist.adapters.dynamo_apikeys import DynamoApiKeyStore
        from diarist.services.apikeys import ApiKeyService

        cfg = self.config
        keys = ApiKeyService(DynamoApiKeyStore(os.environ["DIARIST_TABLE_NAME"]))
        _, self.api_key = keys.create(self.tenant_id, "local mode", plaintext=cfg.api_key)
        self.webhook_secret = wiring.ensure_signing_secret(
            self.tenant_id, secret=cfg.webhook_secret or "whs_" + secrets.token_urlsafe(24)
        )

    def _start_api(self, port: int) -> None:
        from diarist.local.apigw import ApiGatewayServer
        from functions.api.handler import lambda_handler

        handler = lambda_handler
        if self.config.no_auth:
            from diarist.local.no_auth import with_local_key

            handler = with_local_key(lambda_handler, self.api_key)
        self._api = ApiGatewayServer(handler, port=port)
        self._api.start()

    def _start_pollers(self) -> None:
        from diarist.local.pollers import SchedulePoller, SqsPoller
        from diarist.settings import SweeperSettings, load
        from functions.dispatcher import dlq_handler
        from functions.dispatcher import handler as dispatcher
        from functions.ingest import handler as ingest
        from functions.sweeper import handler as sweeper
        from functions.webhook import handler as webhook

        r = self.resources
        self._pollers = [
            SqsPoller("dispatcher", r.job_queue_url, dispatcher.lambda_handler),
            SqsPoller("dispatcher-dlq", r.job_dlq_url, dlq_handler.lambda_handler),
            SqsPoller("ingest", r.ingest_queue_url, ingest.lambda_handler),
            SqsPoller("webhook", r.webhook_queue_url, webhook.lambda_handler),
            SchedulePoller(
                "sweeper", sweeper.lambda_handler, interval_s=load(SweeperSettings).sweep_interval_s
            ),
            # Batch's "Job State Change" for local workers: exits settled at once
            SchedulePoller("workers", self._reap, interval_s=0.5),
        ]
        for p in self._pollers:
            p.start()

    def _reap(self, event: Any, context: Any) -> None:
        self.launcher.reap(self._store, self._bus, self.fleet, ensure_capacity=self.scaler.ensure_capacity)

    def stop(self) -> None:
        for p in self._pollers:
            p.stop()
        if self._api:
            self._api.stop()
        if self.launcher is not None:
            try:
                # SIGTERM: each worker gives its job back and leaves the fleet; a job running at
                # stop is settled on the next start (local.state)
                self.launcher.shutdown()
                self.launcher.poll_finished()
            except Exception:
                log.exception("stopping workers")
            from diarist.launchers import forget_local_launchers

            forget_local_launchers()
        if self.config.data_dir and self.resources:
            from diarist.local import state

            try:
                state.save(self.resources, self.config.data_dir)
            except Exception:
                log.exception("could not save local state to %s", self.config.data_dir)
        if self._moto:
            self._moto.stop()
        self._restore_env()
        from diarist.adapters.aws import reset_clients
        from diarist.settings import load

        reset_clients()
        load.cache_clear()
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self) -> LocalDiarist:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_forever(self) -> None:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
