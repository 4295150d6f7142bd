"""SSRF policy: what is refused (before any connection), what is allowed, how requests connect."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from diarist.netpolicy import (
    LOCAL,
    PRODUCTION,
    FetchError,
    Policy,
    UnsafeUrl,
    address_refusal,
    check_url,
    safe_request,
    validate_url_syntax,
)
from diarist.settings import NetworkPolicySettings
from tests.webhooks.conftest import ConnectionLog, Receiver, fake_resolver

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"

# URLs that must be refused in production, with a word the reason must contain.
REFUSED = [
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://169.254.169.254/latest/meta-data/", "scheme"),
    ("https://[fd00:ec2::254]/latest/meta-data/", "private"),  # AWS IMDS over IPv6
    ("https://127.0.0.1/", "loopback"),
    ("https://127.8.9.10:8443/", "loopback"),
    ("https://localhost/", "loopback"),
    ("https://LOCALHOST./", "loopback"),
    ("https://api.localhost/", "loopback"),
    ("https://10.0.0.1/", "private"),
    ("https://10.255.255.255/", "private"),
    ("https://172.16.0.1/", "private"),
    ("https://172.31.255.254/", "private"),
    ("https://192.168.1.1/", "private"),
    ("https://100.64.0.1/", "CGNAT"),
    ("https://100.127.255.254/", "CGNAT"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://0.1.2.3/", "unspecified"),
    ("https://224.0.0.1/", "multicast"),
    ("https://255.255.255.255/", "broadcast"),
    ("https://240.0.0.1/", "reserved"),
    ("https://[::1]/", "loopback"),
    ("https://[::]/", "unspecified"),
    ("https://[fd00::1]/", "private"),
    ("https://[fe80::1]/", "link-local"),
    ("https://[fe80::1%25eth0]/", "zone"),
    ("https://[ff02::1]/", "multicast"),
    ("https://[::ffff:127.0.0.1]/", "loopback"),
    ("https://[::ffff:169.254.169.254]/", "link-local"),
    ("https://[::ffff:10.0.0.1]/", "private"),
    ("https://[::127.0.0.1]/", "loopback"),  # IPv4-compatible (deprecated)
    ("https://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 of 169.254.169.254
    ("https://[2002:7f00:1::1]/", "loopback"),  # 6to4 of 127.0.0.1
    ("https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "private"),  # Teredo, client 10.0.0.1
    ("https://2130706433/", "non-canonical"),  # decimal 127.0.0.1
    ("https://0177.0.0.1/", "non-canonical"),  # octal
    ("https://0x7f000001/", "non-canonical"),  # hex
    ("https://0x7f.0.0.1/", "non-canonical"),
    ("https://127.1/", "non-canonical"),  # short form
    ("https://0xa9fea9fe/", "non-canonical"),  # hex metadata
    ("https://017700000001/", "non-canonical"),
    ("https://1.2.3.4.5/", "non-canonical"),
    ("https://127\u30020\u30020\u30021/", "loopback"),  # ideographic full stops (IDNA maps them to dots)
    ("https://user:pw@example.com/", "credentials"),
    ("https://example.com@127.0.0.1/", "credentials"),
    ("https://example.com%40127.0.0.1/", "host name"),
    ("https://example.com\\@127.0.0.1/", "backslash"),
    ("https://exa mple.com/", "spaces"),
    ("https://example.com:0/", "port 0"),
    ("https://example.com:99999/", "parsed"),
    ("https://my.host.123/", "ends in a number"),
    ("http://example.com/", "scheme"),
    ("ftp://example.com/", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://127.0.0.1:6379/_INFO", "scheme"),
    ("//example.com/", "scheme"),
    ("https:///path-only", "no host"),
    ("", "empty"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_refused_urls_without_any_connection(url: str, why: str, net: ConnectionLog) -> None:
    net.block_all = True
    resolver = fake_resolver({"example.com": [PUBLIC_V4], "api.localhost": ["127.0.0.1"]})
    with pytest.raises(UnsafeUrl) as err:
        check_url(url, PRODUCTION, resolver=resolver)
    assert why.lower() in err.value.reason.lower(), err.value.reason
    # and the same through safe_request: refused before any socket is opened
    with pytest.raises(UnsafeUrl):
        safe_request("POST", url, body=b"{}", timeout=1, policy=PRODUCTION, resolver=resolver)
    assert net.connects == []
    assert net.lookups == []


# Host names that resolve (fake DNS) to refused addresses: ANY bad address refuses the URL.
DNS_REFUSED = [
    (["169.254.169.254"], "link-local"),
    (["127.0.0.1"], "loopback"),
    (["10.1.2.3"], "private"),
    (["172.20.0.5"], "private"),
    (["192.168.0.10"], "private"),
    (["100.100.100.200"], "CGNAT"),
    (["::1"], "loopback"),
    (["fd12:3456::1"], "private"),
    (["::ffff:127.0.0.1"], "loopback"),
    ([PUBLIC_V4, "10.0.0.7"], "private"),  # one good, one bad: refused
    ([PUBLIC_V6, "fe80::1"], "link-local"),
    (["0.0.0.0"], "unspecified"),
]


@pytest.mark.parametrize(("addresses", "why"), DNS_REFUSED)
def test_names_resolving_to_refused_addresses(addresses: list[str], why: str, net: ConnectionLog) -> None:
    net.block_all = True
    resolver = fake_resolver({"hooks.example.com": addresses})
    with pytest.raises(UnsafeUrl) as err:
        safe_request(
            "POST", "https://hooks.example.com/x", body=b"{}", timeout=1, policy=PRODUCTION, resolver=resolver
        )
    assert why.lower() in err.value.reason.lower()
    assert net.connects == [] and net.lookups == []


ALLOWED = [
    ("https://hooks.example.com/diarist?x=1", [PUBLIC_V4], 443, "/diarist?x=1"),
    ("https://HOOKS.example.com:8443/", [PUBLIC_V4, PUBLIC_V6], 8443, "/"),
    ("https://hooks.example.com", [PUBLIC_V6], 443, "/"),
    ("https://93.184.216.34/cb", [], 443, "/cb"),
    ("https://[2606:2800:220:1:248:1893:25c8:1946]/cb", [], 443, "/cb"),
    ("https://bücher.example.com/cb", [PUBLIC_V4], 443, "/cb"),
]


@pytest.mark.parametrize(("url", "addresses", "port", "target"), ALLOWED)
def test_public_urls_allowed_without_connecting(
    url: str, addresses: list[str], port: int, target: str, net: ConnectionLog
) -> None:
    net.block_all = True
    resolver = fake_resolver({"hooks.example.com": addresses, "xn--bcher-kva.example.com": addresses})
    resolved = check_url(url, PRODUCTION, resolver=resolver)
    assert resolved.port == port and resolved.target == target
    assert resolved.addresses and all(address_refusal(a, PRODUCTION) is None for a in resolved.addresses)
    if addresses:
        assert list(resolved.addresses) == [str(__import__("ipaddress").ip_address(a)) for a in addresses]
    assert net.connects == []


def test_default_resolver_can_be_replaced(net: ConnectionLog) -> None:
    from diarist.netpolicy import set_default_resolver

    previous = set_default_resolver(fake_resolver({"cdn.example.com": ["10.9.8.7"]}))
    try:
        with pytest.raises(UnsafeUrl, match="private"):
            check_url("https://cdn.example.com/a.wav", PRODUCTION)
    finally:
        set_default_resolver(previous)
    assert net.lookups == []


def test_unresolvable_name_is_a_fetch_error_not_a_refusal(net: ConnectionLog) -> None:
    with pytest.raises(FetchError) as err:
        check_url("https://nowhere.example.com/", PRODUCTION, resolver=fake_resolver({}))
    assert err.value.kind == "dns"


def test_validate_url_syntax_needs_no_dns(net: ConnectionLog) -> None:
    net.block_all = True
    parsed = validate_url_syntax("https://hooks.example.com:444/a/b?c=d#frag", PRODUCTION)
    assert (parsed.host, parsed.port, parsed.target, parsed.ip) == (
        "hooks.example.com",
        444,
        "/a/b?c=d",
        None,
    )
    assert parsed.host_header == "hooks.example.com:444"
    assert net.lookups == []


def test_policy_from_settings_and_local_mode_waivers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The production setting (the default) refuses loopback and http ...
    prod = NetworkPolicySettings()
    assert (prod.allow_http, prod.allow_private_networks) == (False, False)
    with pytest.raises(UnsafeUrl):
        validate_url_syntax("http://127.0.0.1:8080/hook", prod)
    # ... local mode (env) allows them
    monkeypatch.setenv("DIARIST_ALLOW_HTTP", "true")
    monkeypatch.setenv("DIARIST_ALLOW_PRIVATE_NETWORKS", "true")
    local = NetworkPolicySettings()
    assert validate_url_syntax("http://127.0.0.1:8080/hook", local).port == 8080
    assert validate_url_syntax("http://10.0.0.5/hook", local).host == "10.0.0.5"
    # but never the metadata endpoint, unspecified, multicast, or non-canonical IP forms
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://0.0.0.0:8080/",
        "http://224.0.0.251/",
        "http://2130706433/",
    ):
        with pytest.raises(UnsafeUrl):
            validate_url_syntax(url, local)
    # http stays refused when only private networks are allowed
    with pytest.raises(UnsafeUrl, match="scheme"):
        validate_url_syntax("http://10.0.0.5/", Policy(allow_private_networks=True))


# Cloud metadata endpoints: refused under every policy, local mode's (private networks allowed) too.
METADATA_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",  # AWS, IPv6 (a private range)
    "http://100.100.100.200/latest/meta-data/",  # Alibaba (CGNAT range)
    "http://192.0.0.192/opc/v1/instance/",  # Oracle classic
    "http://[::ffff:100.100.100.200]/",  # IPv4-mapped
    "http://[64:ff9b::6464:64c8]/",  # NAT64 of 100.100.100.200
]


@pytest.mark.parametrize("url", METADATA_URLS)
@pytest.mark.parametrize("policy", [PRODUCTION, LOCAL, Policy(allow_private_networks=True)])
def test_cloud_metadata_refused_under_every_policy(url: str, policy: Policy, net: ConnectionLog) -> None:
    net.block_all = True
    if not policy.allow_http:
        url = url.replace("http://", "https://")
    with pytest.raises(UnsafeUrl) as err:
        safe_request("GET", url, timeout=1, policy=policy)
    assert "metadata" in err.value.reason or "link-local" in err.value.reason, err.value.reason
    # and when a name resolves to one
    host = url.split("/")[2].strip("[]")
    resolver = fake_resolver({"meta.test": [host]})
    with pytest.raises(UnsafeUrl):
        check_url(url.replace(url.split("/")[2], "meta.test"), policy, resolver=resolver)
    assert net.connects == []


def test_metadata_neighbours_keep_the_local_waiver() -> None:
    # only the endpoints themselves are named: the rest of their ranges follows the policy
    for address in ("fd00:ec2::253", "100.100.100.201", "10.0.0.1"):
        assert address_refusal(address, LOCAL) is None
        assert address_refusal(address, PRODUCTION) is not None
    for address in ("fd00:ec2::254", "100.100.100.200", "192.0.0.192", "169.254.169.254"):
        assert address_refusal(address, LOCAL) is not None


def test_connects_to_the_checked_address_once_with_original_host_header(
    receiver: Receiver, net: ConnectionLog
) -> None:
    # Given a name that resolves to the receiver (a DNS-rebinding attacker would answer
    # differently on a second lookup: there must be no second lookup)
    answers = [["127.0.0.1"], ["169.254.169.254"]]
    calls: list[str] = []

    def rebinding_resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls) - 1, 1)]

    resp = safe_request(
        "POST",
        receiver.url("/cb?x=1", host="hooks.test"),
        body=b'{"a":1}',
        headers={"Content-Type": "application/json", "Host": "evil.example"},
        timeout=2,
        policy=LOCAL,
        resolver=rebinding_resolver,
    )
    assert resp.status == 200 and resp.body == b'{"ok":true}'
    assert calls == ["hooks.test"]  # resolved exactly once
    assert net.ports_to("127.0.0.1") == [receiver.port]
    assert "169.254.169.254" not in [h for h, _ in net.connects]
    (req,) = receiver.requests
    assert req.headers["Host"] == f"hooks.test:{receiver.port}"  # caller cannot override Host
    assert (req.method, req.path, req.body) == ("POST", "/cb?x=1", b'{"a":1}')


def test_redirects_not_followed_by_default(receiver: Receiver, net: ConnectionLog) -> None:
    receiver.plan = [("redirect", 302, "http://169.254.169.254/latest/meta-data/")]
    resp = safe_request("GET", receiver.url(), timeout=2, policy=LOCAL)
    assert resp.status == 302
    assert len(receiver.requests) == 1
    assert [h for h, _ in net.connects] == ["127.0.0.1"]


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/latest/",
        "http://2852039166/latest/",  # decimal 169.254.169.254
        "http://0.0.0.0:{port}/hook",
        "file:///etc/passwd",
        "http://metadata.internal/computeMetadata/v1/",
    ],
)
def test_redirect_targets_are_checked_again(location: str, receiver: Receiver, net: ConnectionLog) -> None:
    receiver.plan = [("redirect", 307, location.format(port=receiver.port))]
    resolver = fake_resolver({"metadata.internal": ["169.254.169.254"]})
    with pytest.raises(UnsafeUrl):
        safe_request("GET", receiver.url(), timeout=2, policy=LOCAL, max_redirects=3, resolver=resolver)
    assert len(receiver.requests) == 1
    assert [h for h, _ in net.connects] == ["127.0.0.1"]  # never the redirect target


def test_allowed_redirect_is_followed_and_post_becomes_get(receiver: Receiver, net: ConnectionLog) -> None:
    receiver.plan = [("redirect", 303, "/next")]
    resp = safe_request("POST", receiver.url(), body=b"x", timeout=2, policy=LOCAL, max_redirects=1)
    assert resp.status == 200
    assert [(r.method, r.path) for r in receiver.requests] == [("POST", "/hook"), ("GET", "/next")]
    receiver.plan = [("redirect", 302, "/a"), ("redirect", 302, "/b")]
    with pytest.raises(FetchError, match="redirect"):
        safe_request("GET", receiver.url(), timeout=2, policy=LOCAL, max_redirects=1)


def test_timeout_and_max_bytes(receiver: Receiver, net: ConnectionLog) -> None:
    receiver.plan = [("hang", 1.5)]
    with pytest.raises(FetchError) as err:
        safe_request("POST", receiver.url(), body=b"{}", timeout=0.5, policy=LOCAL)
    assert err.value.kind == "timeout"
    with pytest.raises(FetchError) as err:
        safe_request("GET", receiver.url(), timeout=2, policy=LOCAL, max_bytes=4)
    assert err.value.kind == "too_large"
    with safe_request("GET", receiver.url(), timeout=2, policy=LOCAL, stream=True) as resp:
        assert resp.body is None and resp.read() == b'{"ok":true}'
    # a long overall deadline with a short idle timeout (downloads) gives up when nothing moves
    receiver.plan = [("hang", 1.5)]
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        safe_request("GET", receiver.url(), timeout=30, idle_timeout=0.3, policy=LOCAL)
    assert err.value.kind == "timeout" and time.monotonic() - started < 1.2


def test_connection_refused_is_a_fetch_error(net: ConnectionLog) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(FetchError) as err:
        safe_request("GET", f"http://127.0.0.1:{port}/", timeout=1, policy=LOCAL)
    assert err.value.kind == "connect"


def test_tls_verifies_the_original_host_name_while_connecting_to_the_ip(
    tls_receiver: Receiver, self_signed_cert, net: ConnectionLog
) -> None:
    # The certificate is for hooks.test; we connect to 127.0.0.1 and still check the name.
    resolver = fake_resolver({"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    tls_policy = Policy(allow_http=False, allow_private_networks=True)
    resp = safe_request(
        "POST",
        tls_receiver.url(host="hooks.test"),
        body=b"{}",
        timeout=3,
        policy=tls_policy,
        resolver=resolver,
        ca_certs=str(self_signed_cert.cert_path),
    )
    assert resp.status == 200
    assert tls_receiver.requests[0].headers["Host"] == f"hooks.test:{tls_receiver.port}"
    # a name the certificate does not cover fails TLS, even though the address is the same
    with pytest.raises(FetchError) as err:
        safe_request(
            "POST",
            tls_receiver.url(host="other.test"),
            body=b"{}",
            timeout=3,
            policy=tls_policy,
            resolver=resolver,
            ca_certs=str(self_signed_cert.cert_path),
        )
    assert err.value.kind == "tls"
    # and an untrusted certificate fails too (no ca_certs: system trust store)
    with pytest.raises(FetchError) as err:
        safe_request(
            "POST", tls_receiver.url(host="hooks.test"), timeout=3, policy=tls_policy, resolver=resolver
        )
    assert err.value.kind == "tls"
    assert len(tls_receiver.requests) == 1


def test_ipv6_literal_connects(net: ConnectionLog) -> None:
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class V6Server(HTTPServer):
        address_family = socket.AF_INET6

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(self.headers["Host"].encode()[:2])

        def log_message(self, *args: object) -> None:
            pass

    try:
        server = V6Server(("::1", 0), Ok)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        resp = safe_request("GET", f"http://[::1]:{port}/", timeout=2, policy=LOCAL)
        assert resp.status == 200 and resp.body == b"[:"  # Host: [::1]:port
        assert net.ports_to("::1") == [port]
        with pytest.raises(UnsafeUrl):
            safe_request("GET", f"http://[::1]:{port}/", timeout=2, policy=Policy(allow_http=True))
    finally:
        server.shutdown()
        server.server_close()


# -- redirects under the production policy --------------------------------------------------------
# The tests above follow redirects under the local policy only. Here the first hop passes the
# PRODUCTION policy for real: ``hooks.test`` resolves (stub) to a public address, and the
# connection to that address is handed to the TLS receiver on 127.0.0.1 (``_pool`` wrapped), so
# every check runs as in production and no traffic leaves loopback.

PRODUCTION_REDIRECTS = [
    "http://hooks.test/next",  # plain http
    "https://10.0.0.5/x",  # a private address
    "https://internal.test/x",  # a name resolving to a private address
    "https://[fd00:ec2::254]/latest/meta-data/",  # cloud metadata over IPv6
    "https://169.254.169.254/latest/meta-data/",
    "https://localhost/x",
    "https://127.0.0.1/x",
    "https://100.64.0.7/x",  # CGNAT
]


@pytest.fixture
def public_tls_receiver(
    tls_receiver: Receiver, self_signed_cert, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Receiver]:
    import dataclasses

    from diarist import netpolicy

    real_pool = netpolicy._pool

    def pool(target, address, timeout, ca_certs):  # type: ignore[no-untyped-def]
        if address == PUBLIC_V4:  # "the internet": the receiver, trusted through its own certificate
            target = dataclasses.replace(target, port=tls_receiver.port)
            return real_pool(target, "127.0.0.1", timeout, str(self_signed_cert.cert_path))
        return real_pool(target, address, timeout, ca_certs)

    monkeypatch.setattr(netpolicy, "_pool", pool)
    resolver = fake_resolver({"hooks.test": [PUBLIC_V4], "internal.test": ["10.0.0.5"]})
    previous = netpolicy.set_default_resolver(resolver)
    try:
        yield tls_receiver
    finally:
        netpolicy.set_default_resolver(previous)


def test_production_first_hop_is_followed_to_a_public_address(public_tls_receiver: Receiver, net) -> None:
    public_tls_receiver.plan = [("redirect", 302, "https://hooks.test/next")]
    resp = safe_request("GET", "https://hooks.test/start", timeout=3, policy=PRODUCTION, max_redirects=3)
    assert resp.status == 200 and resp.body == b'{"ok":true}'
    assert [r.path for r in public_tls_receiver.requests] == ["/start", "/next"]
    assert {h for h, _ in net.connects} == {"127.0.0.1"}


@pytest.mark.parametrize("location", PRODUCTION_REDIRECTS)
def test_production_redirects_to_http_or_private_addresses_are_refused(
    location: str, public_tls_receiver: Receiver, net: ConnectionLog
) -> None:
    public_tls_receiver.plan = [("redirect", 307, location)]
    with pytest.raises(UnsafeUrl):
        safe_request("GET", "https://hooks.test/start", timeout=3, policy=PRODUCTION, max_redirects=3)
    assert [r.path for r in public_tls_receiver.requests] == ["/start"]  # only the first hop
    assert {h for h, _ in net.connects} == {"127.0.0.1"}  # never the redirect target


@pytest.mark.parametrize("location", ["https://internal.test/a.wav", "http://hooks.test/a.wav"])
def test_worker_input_download_refuses_a_redirect_under_the_production_policy(
    location: str, public_tls_receiver: Receiver, net: ConnectionLog, tmp_path
) -> None:
    """The worker's https fetch (``worker.inputs``) with the worker's production settings."""
    from diarist.domain.errors import AudioInputError, ErrorCode
    from diarist.worker.inputs import fetch

    production = NetworkPolicySettings()
    assert (production.allow_http, production.allow_private_networks) == (False, False)
    public_tls_receiver.plan = [("redirect", 302, location)]
    with pytest.raises(AudioInputError) as err:
        fetch("https://hooks.test/audio.wav", tmp_path, None, production)
    assert err.value.code == ErrorCode.INPUT_FORBIDDEN, err.value
    assert [r.path for r in public_tls_receiver.requests] == ["/audio.wav"]
    # and a redirect to a public address is followed and downloaded
    public_tls_receiver.plan = [("redirect", 302, "https://hooks.test/moved.wav")]
    path = fetch("https://hooks.test/audio.wav", tmp_path, None, production)
    assert path.read_bytes() == b'{"ok":true}'
    assert {h for h, _ in net.connects} == {"127.0.0.1"}
