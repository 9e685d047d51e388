"""Node ids: derived from the natural key for identity-keyed labels made through the API, minted
and time-ordered for nodes ingestion creates, random otherwise."""

from __future__ import annotations

import hashlib
import random
import time
import uuid

from maestro_graph.domain.graph import Label
from maestro_graph.domain.keys import natural_key
from maestro_graph.domain.props import SPECS
from maestro_graph.types import NodeId, Props, Tenant

_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


def uuid5(name: str) -> str:
    """str(uuid.uuid5(uuid.NAMESPACE_URL, name)), without building UUID objects (ingestion makes
    tens of ids per event).

    >>> uuid5("maestro:t:Dataset:x") == str(uuid.uuid5(uuid.NAMESPACE_URL, "maestro:t:Dataset:x"))
    True
    """
    h = bytearray(hashlib.sha1(_URL_NAMESPACE + name.encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50  # version 5
    h[8] = (h[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def new_id(tenant: Tenant, label: Label, props: Props) -> NodeId:
    """Identity-keyed labels get a stable id from their key, so every writer agrees on it."""
    if SPECS[label].identity:
        return identity_id(tenant, label, natural_key(label, props))
    return str(uuid.uuid4())


def identity_id(tenant: Tenant, label: Label, key: str) -> NodeId:
    """The id an identity-keyed node gets when it is created through the API: derived from its
    natural key. Ingestion finds nodes by key instead, and mints time-ordered ids for new ones
    (minted_id): either kind of id is found by its key."""
    return uuid5(f"maestro:{tenant}:{label.value}:{key}")


_last_minted = 0


def minted_id() -> NodeId:
    """A new time-ordered id (a UUIDv7: 48 bits of Unix milliseconds, then a sequence, then
    random bits), ascending within this process.

    Why: ids lead every index (nodes by id, relationships by src and by dst). Ids made at the
    same time sit together at the end of each index, so a batch of new nodes and their
    relationships touches a few pages; random ids touch a page per row (several times slower
    ingestion on a large store).

    >>> a, b = minted_id(), minted_id()
    >>> a < b and uuid.UUID(a).version == 7
    True
    """
    global _last_minted
    _last_minted = max(time.time_ns() // 1_000_000 << 12, _last_minted + 1)  # ms, then a 12-bit sequence
    # Version 7, the RFC 9562 variant, then 62 random bits. The ids need to be unique, not
    # unguessable: the module's generator is much cheaper than os.urandom, and a forked worker
    # reseeds it. One hex conversion and plain joins: this runs for every new node.
    x = "%032x" % ((_last_minted >> 12) << 80 | 7 << 76 | (_last_minted & 0xFFF) << 64 | 2 << 62 | random.getrandbits(62))
    return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
