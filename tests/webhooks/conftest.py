"""Fixtures for the webhook suite: a real HTTP receiver on loopback, a connection spy, a fake DNS.

The receiver is reachable only because the tests use the local-mode policy (http + private
networks allowed); ``test_delivery`` shows the production policy refuses it.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from diarist.client import verify_signature


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    at: float


@dataclass
class Receiver:
    """``plan``: what to do for each next request (popped in order; then ``default``).

    An entry is an int status, ``("hang", seconds)``, ``("slow", seconds, status)`` or
    ``("redirect", status, location)``.
    """

    secrets: list[str] = field(default_factory=list)
    plan: list[Any] = field(default_factory=list)
    default: Any = 200
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    scheme: str = "http"
    host: str = "127.0.0.1"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook", host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def next_action(self) -> Any:
        with self.lock:
            return self.plan.pop(0) if self.plan else self.default


def _handler_class(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = dict(self.headers.items())
            verified = bool(receiver.secrets) and verify_signature(receiver.secrets, headers, body)
            with receiver.lock:
                receiver.requests.append(
                    Received(self.command, self.path, headers, body, verified, time.monotonic())
                )
            action = receiver.next_action()
            status, location = action, None
            if isinstance(action, tuple) and action[0] == "hang":
                time.sleep(action[1])
                status = 200
            elif isinstance(action, tuple) and action[0] == "slow":
                time.sleep(action[1])
                status = action[2]
            elif isinstance(action, tuple) and action[0] == "redirect":
                status, location = action[1], action[2]
            try:
                payload = b'{"ok":true}' if status < 300 else b"nope: receiver says no"
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (timeout tests)

        do_POST = _handle
        do_GET = _handle

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out on purpose, TLS handshakes the tests make fail


def _serve(receiver: Receiver, context: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    server = _QuietServer(("127.0.0.1", 0), _handler_class(receiver))
    server.daemon_threads = True
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
        receiver.scheme = "https"
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve(Receiver())


@dataclass(frozen=True)
class Cert:
    cert_path: Path
    key_path: Path
    hostname: str


@pytest.fixture(scope="session")
def self_signed_cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    """A CA-less self-signed certificate for ``hooks.test`` (trusted via ``ca_certs``)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    cert_path, key_path = d / "cert.pem", d / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Cert(cert_path, key_path, "hooks.test")


@pytest.fixture
def tls_receiver(self_signed_cert: Cert) -> Iterator[Receiver]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(self_signed_cert.cert_path, self_signed_cert.key_path)
    yield from _serve(Receiver(), context)


@dataclass
class ConnectionLog:
    """Every TCP connect and name lookup the process attempted during the test."""

    connects: list[tuple[str, int]] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)
    block_all: bool = False

    def ports_to(self, host: str) -> list[int]:
        return [p for h, p in self.connects if h == host]


def _is_ip(host: Any) -> bool:
    try:
        ipaddress.ip_address(str(host).strip("[]").split("%")[0])
        return True
    except ValueError:
        return False


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> ConnectionLog:
    """Spy on (and police) the network: only loopback connects pass, no real DNS ever.

    ``net.block_all = True`` fails any connect at all (tests that must refuse before connecting).
    """
    log = ConnectionLog()
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        host, port = str(address[0]), int(address[1])
        log.connects.append((host, port))
        if log.block_all:
            raise AssertionError(f"the test connected to {host}:{port}")
        if host not in ("127.0.0.1", "::1"):
            raise AssertionError(f"the test tried to connect to a non-loopback address {host}:{port}")
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        log.lookups.append(str(host))
        if not _is_ip(host):
            raise AssertionError(f"the test tried a real DNS lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return log


def fake_resolver(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    """A resolver from a table; unknown names fail like NXDOMAIN. Records its calls."""
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(table[host])

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


# -- a faster ``aws`` for this directory ----------------------------------------------------------
# The root ``aws`` fixture resets and provisions the emulator for every test (~1-2 s). Here the
# emulator is provisioned once per module and emptied between tests (queues purged, items and
# secrets deleted), which keeps the webhook suite well under a minute.


@pytest.fixture(scope="module")
def _provisioned(moto_endpoint: str) -> Iterator[Any]:
    import urllib.request

    from diarist.adapters.aws import reset_clients
    from diarist.local.provision import provision

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    reset_clients()
    yield provision()
    reset_clients()


def _empty(resources: Any) -> None:
    from diarist import resources as R
    from diarist.adapters.aws import client

    sqs, ddb, sm = client("sqs"), client("dynamodb"), client("secretsmanager")
    for url in (resources.webhook_queue_url, resources.webhook_dlq_url):  # (moto limits purges to 1/min)
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    for page in ddb.get_paginator("scan").paginate(
        TableName=resources.table, ProjectionExpression="#pk", ExpressionAttributeNames={"#pk": R.TABLE_PK}
    ):
        for item in page.get("Items", []):
            ddb.delete_item(TableName=resources.table, Key={R.TABLE_PK: item[R.TABLE_PK]})
    for page in sm.get_paginator("list_secrets").paginate():
        for secret in page.get("SecretList", []):
            sm.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)


@pytest.fixture
def aws(_provisioned: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from diarist.settings import forget_built, load

    # (boto3 clients stay cached: building them costs ~0.3 s each and the endpoint is the same)
    load.cache_clear()
    forget_built()
    for key, value in _provisioned.env().items():
        monkeypatch.setenv(key, value)
    _empty(_provisioned)
    yield _provisioned
    load.cache_clear()
    forget_built()
