"""The form of a Dask scheduler address, checked as a field is (nothing is contacted)."""

from __future__ import annotations

import re

from poolscope.core.errors import SpecError

__all__ = ["DEFAULT_SCHEDULER_PORT", "SCHEDULER_SCHEMES", "parse_scheduler_address"]

#: Address schemes a Dask scheduler listens on, and the port it listens on by default.
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
DEFAULT_SCHEDULER_PORT = 8786
_HOST = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.]+\]$")


def parse_scheduler_address(text: str) -> str | None:
    """A Dask scheduler address in full (``tcp://host:8786``), or None for an empty field (start a
    local cluster). Checks the form only (nothing is contacted); raises :class:`SpecError`
    (field ``scheduler``) saying what is wrong.

    Accepts ``host``, ``host:port`` and ``scheme://host[:port]`` (scheme tcp, tls, ws, wss, ucx;
    an IPv6 host in brackets); the port defaults to 8786, as ``dask scheduler``'s does.
    """
    address = text.strip()
    if not address:
        return None
    def bad(reason: str) -> SpecError:
        return SpecError("scheduler", f"not a Dask scheduler address: {reason} (e.g. tcp://10.0.0.5:8786; "
                                      "empty: start a local cluster)")

    scheme, separator, rest = address.partition("://")
    if not separator:
        scheme, rest = "tcp", address
    scheme = scheme.lower()
    if scheme not in SCHEDULER_SCHEMES:
        raise bad(f"unknown scheme {scheme!r} (one of {', '.join(SCHEDULER_SCHEMES)})")
    if rest.startswith("["):
        end = rest.find("]")
        host, after = (rest[: end + 1], rest[end + 1:]) if end > 0 else (rest, "")
        if after and not after.startswith(":"):
            raise bad(f"unexpected {after!r} after the host")
        port = after[1:] if after else None
    elif rest.count(":") > 1:
        raise bad("an IPv6 host goes in brackets, as in tcp://[::1]:8786")
    else:
        host, colon, port_text = rest.partition(":")
        port = port_text if colon else None
    if not host:
        raise bad("no host")
    if not (_HOST.match(host) or _IPV6.match(host)):
        raise bad(f"{host!r} is not a host name or IP address")
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise bad(f"the port must be a whole number from 1 to 65535, not {port!r}")
    return f"{scheme}://{host}:{int(port) if port else DEFAULT_SCHEDULER_PORT}"
