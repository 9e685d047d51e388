"""Leases on every backend (see the `store` fixture): one holder at a time across server processes,
on the database's clock. Leases are not per tenant, so each test takes leases of its own name."""

from __future__ import annotations

import asyncio
import uuid

import pytest

SHORT = 0.5  # seconds: a lease the tests outlive
LONG = 60.0  # seconds: a lease that runs through any test


@pytest.fixture
def lease() -> str:
    return f"test-lease-{uuid.uuid4().hex[:12]}"


async def test_a_free_lease_is_taken(store, lease):
    assert await store.take_lease(lease, "a", LONG) is True


async def test_a_held_lease_is_refused_to_another_holder(store, lease):
    assert await store.take_lease(lease, "a", LONG)
    assert await store.take_lease(lease, "b", LONG) is False
    assert await store.take_lease(lease, "b", SHORT) is False
    assert await store.take_lease(lease, "a", LONG)  # still a's


async def test_the_holder_renews_its_lease(store, lease):
    assert await store.take_lease(lease, "a", SHORT)
    await asyncio.sleep(SHORT / 2)
    assert await store.take_lease(lease, "a", LONG)  # renewed for LONG from now
    await asyncio.sleep(SHORT)  # past the first term: the renewal holds it
    assert await store.take_lease(lease, "b", LONG) is False


async def test_an_expired_lease_goes_to_the_next_taker(store, lease):
    assert await store.take_lease(lease, "a", SHORT)
    assert await store.take_lease(lease, "b", LONG) is False
    await asyncio.sleep(SHORT + 0.3)
    assert await store.take_lease(lease, "b", LONG) is True
    assert await store.take_lease(lease, "a", LONG) is False  # a's time ran out: b holds it now


async def test_a_released_lease_is_free_at_once(store, lease):
    assert await store.take_lease(lease, "a", LONG)
    await store.release_lease(lease, "a")
    assert await store.take_lease(lease, "b", LONG) is True
    await store.release_lease(lease, "a")  # a no longer holds it: nothing happens
    await store.release_lease(lease, "never-held")
    await store.release_lease(f"{lease}-never-taken", "a")


async def test_releasing_another_holders_lease_does_nothing(store, lease):
    assert await store.take_lease(lease, "a", LONG)
    await store.release_lease(lease, "b")
    assert await store.take_lease(lease, "b", LONG) is False
    assert await store.take_lease(lease, "a", LONG) is True


async def test_leases_are_independent_of_each_other(store, lease):
    assert await store.take_lease(f"{lease}-1", "a", LONG)
    assert await store.take_lease(f"{lease}-2", "b", LONG)
    assert await store.take_lease(f"{lease}-1", "b", LONG) is False
    assert await store.take_lease(f"{lease}-2", "a", LONG) is False


async def test_a_lease_is_in_no_tenant_s_feed(store, lease):
    # Other tests (and other sessions on a shared server) write meanwhile: any feed that moved
    # must not mention the lease.
    heads = await store.feed_heads()
    assert await store.take_lease(lease, "a", LONG)
    await store.release_lease(lease, "a")
    for tenant, head in (await store.feed_heads()).items():
        if head != heads.get(tenant):
            assert all(lease not in entry.to_json() for entry in await store.feed_since(tenant, heads.get(tenant, 0), 1000))


async def _contend(stores, lease, takers, seconds=LONG):
    results = await asyncio.gather(*(stores[i % len(stores)].take_lease(lease, f"holder-{i}", seconds)
                                     for i in range(takers)))
    assert results.count(True) == 1, results
    return f"holder-{results.index(True)}"


async def test_of_concurrent_takers_of_a_free_lease_one_wins(store, lease):
    for round_ in range(3):
        winner = await _contend([store], f"{lease}-{round_}", takers=5)
        assert await store.take_lease(f"{lease}-{round_}", winner, LONG)  # and holds it


async def test_of_concurrent_takers_of_an_expired_lease_one_wins(store, lease):
    assert await store.take_lease(lease, "old", SHORT)
    await asyncio.sleep(SHORT + 0.3)
    await _contend([store], lease, takers=5)


async def test_of_concurrent_takers_on_two_store_objects_one_wins(store, second_store, lease):
    for round_ in range(3):
        winner = await _contend([store, second_store], f"{lease}-{round_}", takers=6)
        assert await store.take_lease(f"{lease}-{round_}", "late", LONG) is False
        assert await second_store.take_lease(f"{lease}-{round_}", winner, LONG) is True
    # and a lease one store object released, the other takes at once
    await store.take_lease(f"{lease}-x", "a", LONG)
    assert await second_store.take_lease(f"{lease}-x", "b", LONG) is False
    await store.release_lease(f"{lease}-x", "a")
    assert await second_store.take_lease(f"{lease}-x", "b", LONG) is True
