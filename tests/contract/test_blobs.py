"""Blobs on every backend (see the `store` fixture): named binary values per tenant, versioned, what
every server replica loads (the trained meta-model)."""

from __future__ import annotations

import asyncio
import os

import pytest

from maestro_graph.domain import blobs
from maestro_graph.domain.audit import AuditQuery
from maestro_graph.domain.errors import BadInput
from maestro_graph.domain.graph import ChangeSet, Label
from maestro_graph.services.graph import GraphService


async def test_a_blob_reads_back_byte_for_byte(store, tenant):
    for data in (b"\x00", b"", bytes(range(256)) * 3, os.urandom(1000)):
        version = await store.put_blob(tenant, "model", data)
        assert await store.get_blob(tenant, "model") == (version, data)


async def test_a_blob_of_megabytes_reads_back_byte_for_byte(store, tenant):
    data = os.urandom(5 * 2**20)
    assert await store.put_blob(tenant, "model", data) == 1
    version, got = await store.get_blob(tenant, "model")
    assert (version, len(got), got == data) == (1, len(data), True)


async def test_each_put_replaces_the_data_and_counts_the_version_up(store, tenant):
    assert await store.blob_version(tenant, "model") == 0
    for version, data in ((1, b"one"), (2, b"two"), (3, b"three")):
        assert await store.put_blob(tenant, "model", data) == version
        assert await store.blob_version(tenant, "model") == version
        assert await store.get_blob(tenant, "model") == (version, data)


async def test_names_and_tenants_keep_blobs_apart(store, tenant):
    other = f"{tenant}-other"
    assert await store.put_blob(tenant, "model", b"mine") == 1
    assert await store.put_blob(tenant, "model", b"mine again") == 2
    assert await store.put_blob(tenant, "other-model", b"mine too") == 1
    assert await store.put_blob(other, "model", b"theirs") == 1
    assert await store.get_blob(tenant, "model") == (2, b"mine again")
    assert await store.get_blob(tenant, "other-model") == (1, b"mine too")
    assert await store.get_blob(other, "model") == (1, b"theirs")
    assert await store.blob_version(other, "model") == 1


async def test_a_missing_blob_is_none_at_version_0(store, tenant):
    assert await store.get_blob(tenant, "model") is None
    assert await store.blob_version(tenant, "model") == 0
    await store.put_blob(f"{tenant}-other", "model", b"theirs")
    assert await store.get_blob(tenant, "model") is None
    assert await store.blob_version(tenant, "model") == 0


@pytest.mark.parametrize("first", [True, False], ids=["new", "existing"])
async def test_concurrent_puts_get_distinct_versions(store, second_store, tenant, first):
    base = 0 if first else await store.put_blob(tenant, "model", b"before")
    puts = [s.put_blob(tenant, "model", f"put {i}".encode()) for i, s in enumerate([store, second_store] * 3)]
    versions = await asyncio.gather(*puts)
    assert sorted(versions) == list(range(base + 1, base + 7))
    last = versions.index(base + 6)
    assert await store.get_blob(tenant, "model") == (base + 6, f"put {last}".encode())  # the last one's data


async def test_a_blob_over_64_mib_is_bad_input_and_nothing_is_stored(store, tenant):
    await store.put_blob(tenant, "model", b"kept")
    with pytest.raises(BadInput) as refused:
        await store.put_blob(tenant, "model", bytes(blobs.MAX_BYTES + 1))
    assert "64 MiB" in refused.value.message
    assert await store.get_blob(tenant, "model") == (1, b"kept")


async def test_a_put_moves_no_feed_head_and_writes_no_audit_record(store, tenant):
    person = GraphService(store).build(tenant, Label.PERSON, {"name": "Ada", "email": "ada@example.com"})
    await store.apply(tenant, ChangeSet(create=[person]))
    head = await store.feed_head(tenant)
    assert head > 0
    await store.put_blob(tenant, "model", b"data")
    await store.put_blob(f"{tenant}-other", "model", b"data")
    assert await store.feed_head(tenant) == head
    assert (await store.feed_heads()).get(tenant) == head
    assert f"{tenant}-other" not in await store.feed_heads()
    assert [e.seq for e in await store.feed_since(tenant, 0, 10)] == [head]
    assert (await store.audit_log(tenant, AuditQuery())).total == 0
    assert await store.get_nodes(tenant, [person.id]) == {person.id: person}
    assert await store.count_by_label(tenant) == {Label.PERSON: 1}  # a blob is no node
