"""A Dask scheduler address is checked as a field is, without Qt and without contacting anything."""

from __future__ import annotations

import pytest

from poolscope.core.backends.address import parse_scheduler_address
from poolscope.core.errors import SpecError


@pytest.mark.parametrize(("text", "full"), [
    ("", None),
    ("  ", None),
    ("10.0.0.5", "tcp://10.0.0.5:8786"),
    (" scheduler-1.lan:9000 ", "tcp://scheduler-1.lan:9000"),
    ("TLS://h", "tls://h:8786"),
    ("[::1]:9000", "tcp://[::1]:9000"),
    ("ws://[fe80::1]", "ws://[fe80::1]:8786"),
])
def test_an_address_is_written_out_in_full(text, full):
    assert parse_scheduler_address(text) == full


@pytest.mark.parametrize(("text", "message"), [
    ("http://h:8786", "unknown scheme 'http'"),
    ("::1", "an IPv6 host goes in brackets"),
    ("[::1]x", "unexpected 'x' after the host"),
    ("tcp://:8786", "no host"),
    ("two words", "is not a host name"),
    ("h:0", "from 1 to 65535"),
    ("h:port", "from 1 to 65535"),
])
def test_a_bad_address_names_the_scheduler_field_and_what_is_wrong(text, message):
    with pytest.raises(SpecError) as caught:
        parse_scheduler_address(text)
    assert caught.value.field == "scheduler"
    assert message in caught.value.message
