"""XML-RPC calls over the polite client, parsed as if the server were hostile.

``xmlrpc.client.ServerProxy`` would bring its own transport, without our
timeouts, retries, pauses or size cap, so only the standard library's
marshalling is used here: :func:`xmlrpc.client.dumps` for the request and its
``Unmarshaller`` for the answer, fed by an expat parser that refuses any
DOCTYPE. XML-RPC never needs one, and a DOCTYPE is the only place entities can be
declared, so refusing it rules out entity expansion (billion laughs) and external
entities altogether, without a new dependency.
"""

from __future__ import annotations

import xmlrpc.client
from typing import Any
from xml.parsers import expat

from threatfeed.registries.errors import ProtocolViolation, RegistryError
from threatfeed.registries.http import PoliteClient

MAX_RESPONSE_BYTES = 512 * 1024 * 1024
"""A changelog after a long outage is large; anything past this is not a changelog."""


class _Refused(Exception):
    pass


def _refuse_doctype(*_: object) -> None:
    raise _Refused("the answer declares a DOCTYPE, which XML-RPC never needs")


def loads(data: bytes) -> Any:
    """The single value of a ``methodResponse``; a fault becomes a :class:`RegistryError`."""
    unmarshaller = xmlrpc.client.Unmarshaller(use_builtin_types=True)
    unmarshaller.xml("", None)  # no encoding: expat hands over text already decoded
    parser = expat.ParserCreate(None, None)
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.StartElementHandler = unmarshaller.start
    parser.EndElementHandler = unmarshaller.end
    parser.CharacterDataHandler = unmarshaller.data
    try:
        parser.Parse(data, True)
        values = unmarshaller.close()
    except xmlrpc.client.Fault as fault:
        raise RegistryError(f"XML-RPC fault {fault.faultCode}: {fault.faultString[:300]}") from None
    except _Refused as exc:
        raise ProtocolViolation(str(exc)) from None
    except (
        expat.ExpatError,
        xmlrpc.client.ResponseError,
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        IndexError,
    ) as exc:
        raise ProtocolViolation(f"malformed XML-RPC answer: {type(exc).__name__}: {exc}") from None
    if unmarshaller.getmethodname() is not None or len(values) != 1:
        raise ProtocolViolation("the XML-RPC answer is not a methodResponse with one value")
    return values[0]


def call(client: PoliteClient, url: str, method: str, *params: Any) -> Any:
    request = xmlrpc.client.dumps(params, method, encoding="utf-8").encode()
    body = client.fetch(
        "POST",
        url,
        content=request,
        headers={"Content-Type": "text/xml", "Accept": "text/xml"},
        max_bytes=MAX_RESPONSE_BYTES,
    )
    return loads(body.content)
