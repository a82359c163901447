"""`host:port` strings as Go's net package reads and prints them (`[::1]:80` for IPv6)."""

from __future__ import annotations

import ipaddress


class AddressError(ValueError):
    """A `host:port` that cannot be used; worded like Go's net errors."""


def split_host_port(address: str) -> tuple[str, int]:
    """(host, port) of `host:port`; the host may be empty (every interface) or `[v6]`."""
    if address.startswith("["):
        close = address.find("]")
        if close < 0:
            raise AddressError(f"address {address}: missing ']' in address")
        host, rest = address[1:close], address[close + 1 :]
        if not rest.startswith(":"):
            raise AddressError(f"address {address}: missing port in address")
        port_text = rest[1:]
    else:
        if ":" not in address:
            raise AddressError(f"address {address}: missing port in address")
        host, port_text = address.rsplit(":", 1)
        if ":" in host:
            raise AddressError(f"address {address}: too many colons in address")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise AddressError(f"address {address}: invalid port")
    return host, int(port_text)


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def go_strerror(exc: OSError) -> str:
    """An OS error's text as Go prints it ('address already in use')."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def normalize_source(source: str) -> str:
    """An IP address in one spelling (IPv4-mapped IPv6 as IPv4); ValueError if not one."""
    addr = ipaddress.ip_address(source.strip("[]"))
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)
