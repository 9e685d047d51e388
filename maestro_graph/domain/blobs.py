"""Blobs (GraphStore.put_blob): named binary values per tenant, versioned, what every store takes.

A blob is what the server keeps for itself that every replica must load (the trained meta-model):
not a graph node, not in the feed, not in the audit log (the service that writes one audits
its own operation).
"""

from __future__ import annotations

from maestro_graph.domain.errors import BadInput

MAX_NAME = 200  # characters of a name: what the stores keep (migrations/sql 0008)
MAX_BYTES = 64 * 2**20  # of data: a trained model is a few MB; far beyond that is a mistake


def check_name(name: str) -> None:
    """Assert that a blob's name makes sense: the callers are the server's own code, not clients.

    >>> check_name("metamodel")
    """
    assert isinstance(name, str) and 0 < len(name) <= MAX_NAME, f"a blob name: 1 to {MAX_NAME} characters"


def checked(name: str, data: bytes | bytearray | memoryview) -> bytes:
    """The data to store under `name`, as bytes; BadInput if it is over MAX_BYTES.

    >>> checked("metamodel", bytearray(b"\\x00\\x01"))
    b'\\x00\\x01'
    """
    check_name(name)
    assert isinstance(data, (bytes, bytearray, memoryview)), "blob data: bytes"
    data = bytes(data)
    if len(data) > MAX_BYTES:
        raise BadInput(f"the blob {name!r} is {len(data):,} bytes; a blob holds at most {MAX_BYTES:,} bytes (64 MiB)")
    return data
