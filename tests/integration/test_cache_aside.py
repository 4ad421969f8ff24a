"""Cache-aside against real Valkey: typed values, invalidation on write, stampedes, outages."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from claw_common.data.cache_aside import CacheAside, hash_key
from tests.ratelimit_helpers import shared_redis, spare_valkey


class Profile(BaseModel):
    id: str
    name: str
    tier: str


class FakeRepo:
    """A stand-in for the database: counts loads so tests can see when the cache was used."""

    def __init__(self) -> None:
        self.rows: dict[str, Profile] = {}
        self.loads = 0
        self._lock = threading.Lock()

    def get(self, user_id: str, delay: float = 0.0) -> Profile:
        with self._lock:
            self.loads += 1
        if delay:
            time.sleep(delay)
        return self.rows[user_id].model_copy()


@pytest.fixture()
def profiles(platform: Any) -> CacheAside[Profile]:
    return CacheAside(f"profile-{uuid.uuid4().hex[:8]}", ttl_s=60, model=Profile, client=shared_redis())


def test_a_hit_returns_the_typed_value_without_loading(profiles: CacheAside[Profile]) -> None:
    repo = FakeRepo()
    repo.rows["u1"] = Profile(id="u1", name="Alice", tier="free")
    first = profiles.get_or_load("u1", lambda: repo.get("u1"))
    second = profiles.get_or_load("u1", lambda: repo.get("u1"))
    assert repo.loads == 1
    assert isinstance(second, Profile) and second == first == Profile(id="u1", name="Alice", tier="free")


def test_a_write_invalidates_the_cached_read(profiles: CacheAside[Profile]) -> None:
    repo = FakeRepo()
    repo.rows["u1"] = Profile(id="u1", name="Alice", tier="free")
    assert profiles.get_or_load("u1", lambda: repo.get("u1")).tier == "free"

    # When the profile is written and the cache invalidated, as a write path does
    repo.rows["u1"] = Profile(id="u1", name="Alice", tier="pro")
    profiles.invalidate("u1")

    # Then the next read sees the new value
    assert profiles.get_or_load("u1", lambda: repo.get("u1")).tier == "pro"
    assert repo.loads == 2


def test_a_slow_reader_cannot_put_back_a_value_older_than_the_write(profiles: CacheAside[Profile]) -> None:
    repo = FakeRepo()
    repo.rows["u1"] = Profile(id="u1", name="Old", tier="free")
    started = threading.Event()

    def slow_load() -> Profile:
        value = repo.get("u1")  # reads the old row ...
        started.set()
        time.sleep(0.3)  # ... and stores it only after the write below
        return value

    with ThreadPoolExecutor(max_workers=1) as pool:
        stale_reader = pool.submit(profiles.get_or_load, "u1", slow_load)
        started.wait(5)
        repo.rows["u1"] = Profile(id="u1", name="New", tier="free")
        profiles.invalidate("u1")
        assert stale_reader.result().name == "Old"

    assert profiles.get_or_load("u1", lambda: repo.get("u1")).name == "New"


def test_a_namespace_bump_invalidates_the_whole_family(platform: Any) -> None:
    lists = CacheAside(f"convlist-{uuid.uuid4().hex[:8]}", ttl_s=60, client=shared_redis())
    data = {"alice": ["c1"], "bob": ["c9"]}
    loads: list[str] = []

    def page(user: str, cursor: str) -> Any:
        loads.append(f"{user}:{cursor}")
        return {"items": list(data[user]), "cursor": cursor}

    for cursor in ("0", "1"):
        lists.get_or_load(f"alice:{cursor}", lambda c=cursor: page("alice", c), namespace="user:alice")
    lists.get_or_load("bob:0", lambda: page("bob", "0"), namespace="user:bob")
    assert len(loads) == 3

    data["alice"].append("c2")
    lists.invalidate_namespace("user:alice")

    assert lists.get_or_load("alice:0", lambda: page("alice", "0"), namespace="user:alice")["items"] == ["c1", "c2"]
    assert lists.get_or_load("alice:1", lambda: page("alice", "1"), namespace="user:alice")["items"] == ["c1", "c2"]
    # Bob's family is untouched: served from the cache.
    assert lists.get_or_load("bob:0", lambda: page("bob", "0"), namespace="user:bob")["items"] == ["c9"]
    assert loads == ["alice:0", "alice:1", "bob:0", "alice:0", "alice:1"]


def test_a_stampede_of_50_concurrent_misses_loads_once(profiles: CacheAside[Profile]) -> None:
    repo = FakeRepo()
    repo.rows["hot"] = Profile(id="hot", name="Hot", tier="enterprise")
    barrier = threading.Barrier(50)

    def read(_: int) -> Profile:
        barrier.wait()
        return profiles.get_or_load("hot", lambda: repo.get("hot", delay=0.3))

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(read, range(50)))

    assert repo.loads == 1
    assert all(r == Profile(id="hot", name="Hot", tier="enterprise") for r in results)


def test_waiters_load_themselves_when_the_lock_holder_is_too_slow(platform: Any) -> None:
    cache = CacheAside(f"slow-{uuid.uuid4().hex[:8]}", ttl_s=60, lock_wait_s=0.2, client=shared_redis())
    calls = []

    def load() -> str:
        calls.append(1)
        time.sleep(1.0 if len(calls) == 1 else 0)
        return "value"

    with ThreadPoolExecutor(max_workers=2) as pool:
        holder = pool.submit(cache.get_or_load, "k", load)
        time.sleep(0.05)
        waiter_started = time.monotonic()
        assert cache.get_or_load("k", load) == "value"
        # The waiter gave up waiting long before the holder's 1 s load finished.
        assert time.monotonic() - waiter_started < 0.9
        assert holder.result() == "value"
    assert len(calls) == 2


def test_loader_errors_propagate_and_nothing_is_cached(profiles: CacheAside[Profile]) -> None:
    def broken() -> Profile:
        raise LookupError("db down")

    with pytest.raises(LookupError):
        profiles.get_or_load("u-err", broken)
    # The lock was released: the next caller loads at once.
    assert profiles.get_or_load("u-err", lambda: Profile(id="u-err", name="E", tier="free")).name == "E"


def test_redis_outage_fails_open_and_recovers(tmp_path: Path, platform: Any) -> None:
    with spare_valkey(tmp_path) as valkey:
        cache = CacheAside("outage", ttl_s=60, client=valkey.client())
        loads = []

        def load() -> dict[str, int]:
            loads.append(1)
            return {"n": len(loads)}

        assert cache.get_or_load("k", load) == {"n": 1}
        assert cache.get_or_load("k", load) == {"n": 1}

        valkey.stop()
        # Reads go straight to the loader; writes' invalidations do not raise.
        assert cache.get_or_load("k", load) == {"n": 2}
        cache.invalidate("k")
        cache.invalidate_namespace("any")

        valkey.start()
        assert cache.get_or_load("k", load) == {"n": 3}
        assert cache.get_or_load("k", load) == {"n": 3}


def test_hash_key_is_stable_and_short() -> None:
    assert hash_key("你好", {"kb": 1, "top_k": 5}) == hash_key("你好", {"top_k": 5, "kb": 1})
    assert hash_key("a") != hash_key("b")
    assert len(hash_key("x" * 10_000)) == 40
