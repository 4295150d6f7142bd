"""The outbound network policy: which URLs Diarist may connect to, and the SSRF-safe HTTP that
enforces it. Every outgoing request to a user-given URL goes through here: webhook delivery, the
worker's https input fetch, and the API's checks at submission.

A URL a user gave us must never turn Diarist into a proxy into its own network (the VPC, the
instance metadata service at 169.254.169.254, localhost ...). The rules:

- ``https`` only; ``http`` only when the policy's ``allow_http`` is on (local mode).
- No credentials in the URL, no backslashes, spaces or control characters, no IP literal in a
  non-canonical form (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``): these are refused
  outright, whatever the policy, because they only ever serve to fool a filter.
- The host is resolved once; if ANY of its addresses is loopback, private, CGNAT (100.64/10),
  link-local, multicast, reserved, unspecified or otherwise not globally routable (IPv4 and IPv6,
  including IPv4 addresses embedded in IPv6: ``::ffff:a.b.c.d``, ``::a.b.c.d``, NAT64, 6to4,
  Teredo), the URL is refused. ``allow_private_networks`` (local mode) allows loopback, private
  and CGNAT ranges, never link-local (cloud metadata), multicast, broadcast or unspecified, and
  never the cloud metadata endpoints that sit in a private or CGNAT range (``CLOUD_METADATA``:
  AWS's ``fd00:ec2::254``, Alibaba's ``100.100.100.200``, Oracle's ``192.0.0.192``).
- The connection goes to the address that was checked (no second lookup, so no DNS rebinding);
  TLS still verifies the certificate against the original host name (SNI + hostname check) and
  the ``Host`` header carries the original host.
- Redirects are not followed unless asked for, and every hop is checked again from scratch.
- Environment proxies are ignored (a urllib3 pool per request, no ``requests``).

The resolver is injectable (``resolver=``): tests resolve names without any network.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""``resolver(host, port) -> addresses`` (strings). Raise ``OSError`` when the name does not resolve."""

CGNAT = ipaddress.ip_network("100.64.0.0/10")
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
BROADCAST = ipaddress.ip_address("255.255.255.255")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
SITE_LOCAL_V6 = ipaddress.ip_network("fec0::/10")
# Cloud instance metadata endpoints. The link-local ones are refused with every link-local
# address; these sit in ranges a private-network policy (local mode) waives, so they are named:
# refused under every policy.
CLOUD_METADATA: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("fd00:ec2::254"),  # AWS instance metadata over IPv6 (Nitro)
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud (CGNAT range)
        ipaddress.ip_address("192.0.0.192"),  # Oracle Cloud classic (IETF protocol range)
    }
)

# Reasons a private-network policy (local mode) may waive. Everything else is always refused.
_WAIVABLE = frozenset({"loopback", "private network", "shared address space (CGNAT)", "site-local"})

_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class NetworkPolicy(Protocol):
    """What the checks read from ``settings.NetworkPolicySettings`` (or any look-alike)."""

    @property
    def allow_http(self) -> bool: ...

    @property
    def allow_private_networks(self) -> bool: ...


@dataclass(frozen=True)
class Policy:
    """A plain ``NetworkPolicy`` for code and tests that do not read settings."""

    allow_http: bool = False
    allow_private_networks: bool = False


PRODUCTION = Policy()
LOCAL = Policy(allow_http=True, allow_private_networks=True)


class UnsafeUrl(ValueError):
    """The URL is refused by the policy. Permanent: retrying will not help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FetchError(Exception):
    """The request could not be completed (``kind``: dns, connect, timeout, tls, too_large,
    protocol, redirect). Usually transient."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class ParsedUrl:
    url: str
    scheme: str
    host: str  # ASCII (IDNA) host name or IP address without brackets, lower case
    port: int
    target: str  # path + query, what goes on the request line
    ip: IPAddress | None  # set when the host is an IP literal

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if isinstance(self.ip, ipaddress.IPv6Address) else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class ResolvedTarget(ParsedUrl):
    addresses: tuple[str, ...] = ()  # every address the host resolved to, all checked


# -- address classification ---------------------------------------------------------------------


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def _classify(ip: IPAddress) -> str | None:
    """Why this address is not a public internet address, or None when it is one. A cloud
    metadata endpoint's reason is never one a policy may waive."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        for inner in _embedded_ipv4(ip):
            reason = _classify(inner)
            if reason is not None:
                return reason
    reason = _range(ip)
    if ip in CLOUD_METADATA:
        return f"{reason}: a cloud metadata endpoint"
    return reason


def _range(ip: IPAddress) -> str | None:
    """The special-purpose range ``ip`` is in, or None for a public address."""
    if ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in THIS_NETWORK):
        return "unspecified address"
    if ip.is_multicast:
        return "multicast"
    if ip.is_link_local:
        return "link-local address (cloud metadata)"
    if ip == BROADCAST:
        return "broadcast"
    if ip.is_loopback:
        return "loopback"
    if isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT:
        return "shared address space (CGNAT)"
    if isinstance(ip, ipaddress.IPv6Address) and ip in SITE_LOCAL_V6:
        return "site-local"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private network"
    if not ip.is_global:
        return "not globally routable"
    return None


def address_refusal(ip: IPAddress | str, policy: NetworkPolicy) -> str | None:
    """The reason ``ip`` is refused under ``policy``, or None when it may be connected to."""
    addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    reason = _classify(addr)
    if reason is None or (policy.allow_private_networks and reason in _WAIVABLE):
        return None
    return reason


# -- URL syntax -----------------------------------------------------------------------------------


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Decode inet_aton forms (1-4 parts, each decimal, 0-octal or 0x-hex); None if not decodable."""
    parts = host.split(".")
    values: list[int] = []
    try:
        for part in parts:
            if part.lower().startswith("0x"):
                values.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                values.append(int(part, 8))
            else:
                values.append(int(part, 10))
    except ValueError:
        return None
    if not 1 <= len(values) <= 4 or any(v < 0 for v in values):
        return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = last
    for i, v in enumerate(head):
        number |= v << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def validate_url_syntax(url: str, policy: NetworkPolicy) -> ParsedUrl:
    """Check a URL without resolving it (for a clear 400 at submission). Raises ``UnsafeUrl``.

    IP literals are checked against the policy here already; host names are checked when
    resolved (``check_url``), which must still happen before every connection.
    """
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("URL is empty")
    if len(url) > 2048:
        raise UnsafeUrl("URL is longer than 2048 characters")
    if _FORBIDDEN_CHARS.search(url):
        raise UnsafeUrl("URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UnsafeUrl(f"URL cannot be parsed: {e}") from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if scheme not in allowed:
        raise UnsafeUrl(f"URL scheme must be {' or '.join(allowed)}, not {scheme or 'missing'!r}")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise UnsafeUrl("URL must not contain credentials (user:password@)")
    raw_host = parts.hostname
    if not raw_host:
        raise UnsafeUrl("URL has no host")
    if port == 0:
        raise UnsafeUrl("URL port 0 is not allowed")
    port = port or (443 if scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query

    ip: IPAddress | None = None
    if parts.netloc.split("@")[-1].startswith("["):
        if "%" in raw_host:
            raise UnsafeUrl("IPv6 zone identifiers are not allowed")
        try:
            ip = ipaddress.IPv6Address(raw_host)
        except ValueError:
            raise UnsafeUrl(f"invalid IPv6 address {raw_host!r}") from None
        host = str(ip)
    else:
        try:
            host = raw_host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise UnsafeUrl(f"invalid host name {raw_host!r}") from None
        host_nodot = host.rstrip(".")
        labels = host_nodot.split(".")
        if not host_nodot or any(not label for label in labels):
            raise UnsafeUrl(f"invalid host name {raw_host!r}")
        if all(_NUMERIC_LABEL.match(label) for label in labels):
            try:
                ip = ipaddress.IPv4Address(host_nodot)
            except ValueError:
                decoded = _legacy_ipv4(host_nodot)
                means = f" (means {decoded})" if decoded is not None else ""
                raise UnsafeUrl(f"non-canonical IP address form {raw_host!r}{means}") from None
            host = str(ip)
        elif _NUMERIC_LABEL.match(labels[-1]):
            raise UnsafeUrl(f"host name {raw_host!r} ends in a number (looks like an IP address)")
        elif not policy.allow_private_networks and (
            host_nodot in _LOCAL_NAMES or host_nodot.endswith(".localhost")
        ):
            raise UnsafeUrl(f"host {raw_host!r} is loopback")
    if ip is not None:
        reason = address_refusal(ip, policy)
        if reason:
            raise UnsafeUrl(f"address {ip} is refused: {reason}")
    return ParsedUrl(url=url, scheme=scheme, host=host, port=port, target=target, ip=ip)


# -- resolution -----------------------------------------------------------------------------------


_default_resolver: Resolver | None = None


def set_default_resolver(resolver: Resolver | None) -> Resolver | None:
    """Use ``resolver`` wherever no ``resolver=`` is passed (tests of code that calls
    ``safe_request`` without one); ``None`` restores the system's. Returns the previous one."""
    global _default_resolver
    previous, _default_resolver = _default_resolver, resolver
    return previous


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]), None)
    return list(seen)


def check_url(url: str, policy: NetworkPolicy, *, resolver: Resolver | None = None) -> ResolvedTarget:
    """Validate ``url`` and resolve its host; refuse if ANY address is refused by ``policy``.

    Raises ``UnsafeUrl`` (permanent) or ``FetchError('dns', ...)`` when the name does not resolve.
    Connect only to ``ResolvedTarget.addresses`` (``safe_request`` does).
    """
    parsed = validate_url_syntax(url, policy)
    if parsed.ip is not None:
        addresses: list[str] = [str(parsed.ip)]
    else:
        try:
            addresses = list((resolver or _default_resolver or system_resolver)(parsed.host, parsed.port))
        except (OSError, UnicodeError) as e:
            raise FetchError("dns", f"cannot resolve {parsed.host}: {e}") from None
        if not addresses:
            raise FetchError("dns", f"{parsed.host} has no address")
    checked: list[str] = []
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise UnsafeUrl(
                f"{parsed.host} resolved to something that is not an address: {address!r}"
            ) from None
        reason = address_refusal(ip, policy)
        if reason:
            raise UnsafeUrl(f"{parsed.host} resolves to {ip}, refused: {reason}")
        checked.append(str(ip))
    return ResolvedTarget(**parsed.__dict__, addresses=tuple(checked))


# -- requests -------------------------------------------------------------------------------------


@dataclass
class SafeResponse:
    """The answer of ``safe_request``. ``body`` is None when ``stream=True``: read with
    ``iter_content``/``read`` and ``close()`` (or use it as a context manager)."""

    status: int
    headers: dict[str, str]
    url: str
    address: str
    body: bytes | None = None
    _raw: Any = field(default=None, repr=False)
    _pool: Any = field(default=None, repr=False)
    _deadline: float | None = field(default=None, repr=False)
    _max_bytes: int | None = field(default=None, repr=False)
    _read: int = field(default=0, repr=False)

    def iter_content(self, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        if self._raw is None:
            if self.body is not None:
                yield self.body
            return
        while True:
            if self._deadline is not None and time.monotonic() > self._deadline:
                self.close()
                raise FetchError("timeout", "reading the response took too long")
            try:
                chunk = self._raw.read(chunk_size)
            except (ReadTimeoutError, TimeoutError):
                self.close()
                raise FetchError("timeout", "reading the response timed out") from None
            except (ProtocolError, HTTPError, OSError) as e:
                self.close()
                raise FetchError("protocol", str(e)) from None
            if not chunk:
                return
            self._read += len(chunk)
            if self._max_bytes is not None and self._read > self._max_bytes:
                self.close()
                raise FetchError("too_large", f"response is larger than {self._max_bytes} bytes")
            yield chunk

    def read(self, limit: int | None = None) -> bytes:
        """Read the (rest of the) body, at most ``limit`` bytes when given (the rest is dropped)."""
        out = bytearray()
        for chunk in self.iter_content(min(limit, 64 * 1024) if limit else 64 * 1024):
            out += chunk
            if limit is not None and len(out) >= limit:
                break
        return bytes(out[:limit] if limit is not None else out)

    def close(self) -> None:
        """Close the connection (never reused: one pool per request, for the checked address)."""
        raw, pool, self._raw, self._pool = self._raw, self._pool, None, None
        if raw is not None:
            raw.close()
        if pool is not None:
            pool.close()

    def __enter__(self) -> SafeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pool(target: ResolvedTarget, address: str, timeout: urllib3.Timeout, ca_certs: str | None) -> Any:
    if target.scheme == "https":
        kwargs: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED, "assert_hostname": target.host}
        if target.ip is None:
            kwargs["server_hostname"] = target.host  # SNI + certificate checked against the name
        if ca_certs:
            kwargs["ca_certs"] = ca_certs
        return urllib3.HTTPSConnectionPool(
            address, target.port, timeout=timeout, retries=False, maxsize=1, **kwargs
        )
    return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1)


def _send_once(
    method: str,
    target: ResolvedTarget,
    body: bytes | None,
    headers: Mapping[str, str],
    deadline: float,
    ca_certs: str | None,
    idle_timeout: float | None = None,
) -> tuple[Any, Any, str]:
    last_error: FetchError | None = None
    for address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        step = remaining if idle_timeout is None else min(remaining, idle_timeout)
        timeout = urllib3.Timeout(connect=step, read=step)
        pool = _pool(target, address, timeout, ca_certs)
        request_headers = {k: v for k, v in headers.items() if k.lower() != "host"}
        request_headers["Host"] = target.host_header
        try:
            try:
                raw = pool.urlopen(
                    method,
                    target.target,
                    body=body,
                    headers=request_headers,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    assert_same_host=False,
                    release_conn=False,
                )
            except BaseException:
                pool.close()
                raise
            return raw, pool, address
        except NewConnectionError as e:  # (a subclass of ConnectTimeoutError: test it first)
            last_error = FetchError("connect", f"cannot connect to {target.host} ({address}): {e}")
        except ConnectTimeoutError:
            last_error = FetchError("timeout", f"connecting to {target.host} ({address}) timed out")
        except ReadTimeoutError:
            # the request was sent: do not try another address (the endpoint may have acted on it)
            raise FetchError("timeout", f"{target.host} did not answer in time") from None
        except SSLError as e:
            raise FetchError("tls", f"TLS with {target.host} failed: {e}") from None
        except (ProtocolError, HTTPError, OSError) as e:
            raise FetchError("protocol", f"request to {target.host} failed: {e}") from None
    raise last_error or FetchError("timeout", f"no time left to connect to {target.host}")


def safe_request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float,
    policy: NetworkPolicy,
    max_bytes: int | None = None,
    stream: bool = False,
    max_redirects: int = 0,
    resolver: Resolver | None = None,
    ca_certs: str | None = None,
    idle_timeout: float | None = None,
) -> SafeResponse:
    """Send one HTTP request to a user-supplied URL, safely.

    ``timeout`` bounds the whole exchange (connect + answer + body, unless streaming: then the
    caller's reads share what is left of it). ``idle_timeout`` (downloads: a long ``timeout``, a
    short ``idle_timeout``) also bounds the connect and every single socket read. Redirects (301/302/303/307/308) are returned as they
    are when ``max_redirects`` is 0; otherwise each ``Location`` is checked again with
    ``check_url`` before it is followed (303, and 301/302 after POST, become GET without body).
    Raises ``UnsafeUrl`` (refused, no connection made) or ``FetchError``.
    """
    deadline = time.monotonic() + timeout
    current_url, current_method, current_body = url, method.upper(), body
    hops = 0
    while True:
        target = check_url(current_url, policy, resolver=resolver)
        raw, pool, address = _send_once(
            current_method, target, current_body, headers or {}, deadline, ca_certs, idle_timeout
        )
        response_headers = {k.lower(): v for k, v in raw.headers.items()}
        response = SafeResponse(
            status=raw.status,
            headers=response_headers,
            url=current_url,
            address=address,
            _raw=raw,
            _pool=pool,
            _deadline=deadline,
            _max_bytes=max_bytes,
        )
        location = response_headers.get("location")
        if raw.status in (301, 302, 303, 307, 308) and location and max_redirects > 0:
            response.close()
            hops += 1
            if hops > max_redirects:
                raise FetchError("redirect", f"more than {max_redirects} redirects")
            current_url = urljoin(current_url, location)
            if raw.status == 303 or (raw.status in (301, 302) and current_method == "POST"):
                current_method, current_body = "GET", None
            continue
        if stream:
            return response
        try:
            response.body = response.read()
        finally:
            response.close()
        return response
