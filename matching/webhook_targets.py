"""Where webhooks may be sent: public https addresses only, unless private targets are allowed (development)."""

import asyncio
import ipaddress
import socket

import httpx

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_PORT = 65535


class TargetRefused(ValueError):
    """The address is one the exchange never POSTs to (its reason is safe to show the subscriber)."""


class TargetUnresolved(OSError):
    """The host name does not resolve now; it may later."""


def is_public(address: IpAddress) -> bool:
    """True for an address on the public internet (not loopback, private, link-local, shared, reserved or multicast)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> IpAddress | None:
    """The address when the host is written as one, else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address a host name resolves to."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetUnresolved(f"{host} does not resolve") from exc
    # The scope id of a link-local IPv6 address (fe80::1%eth0) is not part of the address.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def check(url: str, allow_private: bool) -> list[IpAddress]:
    """The public addresses an https webhook URL reaches now (none checked when private targets are allowed); else refuse it."""
    # Parsed as httpx parses it, since httpx sends it: the host checked here is the host delivery connects to.
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise TargetRefused("is not a valid URL") from exc
    if target.port is not None and not 0 < target.port <= MAX_PORT:
        raise TargetRefused(f"has a port outside 1–{MAX_PORT}")
    if allow_private:
        return []
    if target.scheme != "https":
        raise TargetRefused("must be an https URL")
    host = target.raw_host.decode("ascii")
    if not host:
        raise TargetRefused("has no host")
    literal = literal_address(host)
    addresses = [literal] if literal is not None else await resolve(host, target.port or 443)
    if not addresses or not all(is_public(a) for a in addresses):
        raise TargetRefused("must reach a public address (not loopback, private, link-local or reserved)")
    return addresses
