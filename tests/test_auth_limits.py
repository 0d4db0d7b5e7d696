"""Login throttling and the password-hashing queue, over real sockets."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type

from playhub.client import Client
from playhub.protocol.errors import RateLimited, Unauthorized
from playhub.server.app import PlayHubApp
from playhub.services.passwords import PasswordService, available_cores
from playhub.services.ratelimit import AttemptCounter
from playhub.settings import Settings
from playhub.store import accounts as accounts_repo
from tests.helpers import Harness, settings_for_tests


async def _client_from(hub: Harness, source_ip: str) -> Client:
    """A client whose connection comes from another loopback address (another 'machine')."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", hub.app.lobby_port, local_addr=(source_ip, 0), limit=1 << 20
    )
    client = Client(reader, writer)
    hub.clients.append(client)
    return client


async def _codes(coros: list) -> list[int]:  # type: ignore[type-arg]
    out = await asyncio.gather(*coros)
    return [r["code"] for r in out]


async def test_parallel_wrong_attempts_are_counted_when_they_start(make_hub) -> None:  # type: ignore[no-untyped-def]
    # A hash slow enough that all 60 attempts arrive while the first ones are still being checked.
    hub = await make_hub(argon2_memory_kib=8_192, argon2_time_cost=1, login_fail_max_per_ip_account=5)
    await hub.player("target")
    clients = [await hub.lobby() for _ in range(60)]
    payload = {"username": "target", "password": "wrong-pw"}
    answers = await asyncio.gather(*(c.request_raw("LOGIN_PLAYER", payload) for c in clients))
    codes = sorted(a["code"] for a in answers)
    assert codes.count(101) == 5, codes  # only the first five were checked at all
    assert codes.count(106) == 55, codes
    assert all(a["payload"]["retry_after_s"] >= 1 for a in answers if a["code"] == 106)


async def test_limiter_keys_are_small_whatever_the_username(hub: Harness) -> None:
    c = await hub.lobby()
    for i in range(12):
        huge = f"{i}-" + "x" * 400_000  # 400 KB usernames, each a new key
        with pytest.raises(Unauthorized):
            await c.login_player(huge, "wrong-pw")
    limiter = hub.app.accounts.limiter
    tables = (limiter.per_ip_account, limiter.per_account, limiter.per_ip)
    assert all(len(key) == 16 for table in tables for key in table.keys())
    assert sum(sys.getsizeof(key) for table in tables for key in table.keys()) < 10_000


async def test_limiter_entries_expire(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(login_fail_window_s=0.3)
    c = await hub.lobby()
    for name in ("ghost1", "ghost2", "ghost3"):
        with pytest.raises(Unauthorized):
            await c.login_player(name, "wrong-pw")
    assert len(hub.app.accounts.limiter) > 0
    for _ in range(40):  # the server's housekeeping (once a second) forgets them once their window is over
        if len(hub.app.accounts.limiter) == 0:
            break
        await asyncio.sleep(0.1)
    assert len(hub.app.accounts.limiter) == 0


async def test_limiter_table_is_capped(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(login_limiter_max_keys=8)
    c = await hub.lobby()
    for i in range(30):
        with pytest.raises(Unauthorized):
            await c.login_player(f"nobody{i}", "wrong-pw")
    limiter = hub.app.accounts.limiter
    assert len(limiter.per_ip_account) <= 8 and len(limiter.per_account) <= 8


async def test_an_attacker_does_not_lock_out_other_players_of_the_same_ip(hub: Harness) -> None:
    # Default settings. An attacker sharing the players' address sprays wrong passwords over several accounts: each
    # account it guesses gets throttled, the address as a whole does not.
    for name in ("gina", "hugo"):
        await hub.player(name)
    attacker = await hub.lobby()
    for i in range(8):
        for _ in range(5):
            with pytest.raises(Unauthorized):
                await attacker.login_player(f"victim{i}", "wrong-pw")
        with pytest.raises(RateLimited):
            await attacker.login_player(f"victim{i}", "wrong-pw")
    for name in ("gina", "hugo"):  # 40 failures from this address: its other users still log in
        await (await hub.lobby()).login_player(name, "secret-pw")


async def test_per_account_ceiling_holds_across_addresses(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(login_fail_max_per_account=6, login_fail_max_per_ip_account=5)
    await hub.player("celeb")
    payload = {"username": "celeb", "password": "wrong-pw"}
    for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        c = await _client_from(hub, ip)
        assert await _codes([c.request_raw("LOGIN_PLAYER", payload) for _ in range(2)]) == [101, 101]
    late = await _client_from(hub, "127.0.0.5")
    answer = await late.request_raw("LOGIN_PLAYER", {"username": "celeb", "password": "secret-pw"})
    assert answer["code"] == 106 and answer["payload"]["retry_after_s"] >= 1
    # Name keys fold case and compatibility forms: "CELEB" is the same account for the limiter.
    answer = await late.request_raw("LOGIN_PLAYER", {"username": "CELEB", "password": "wrong-pw"})
    assert answer["code"] == 106


async def test_successful_logins_give_their_attempt_back(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(login_fail_max_per_ip=3)
    for i in range(8):
        await hub.player(f"shared{i}")
    for i in range(8):  # eight good logins from one address, past a ceiling of three attempts
        await (await hub.lobby()).login_player(f"shared{i}", "secret-pw")


async def test_hash_queue_is_bounded_and_answers_106(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(
        hash_concurrency=1, hash_queue_max=1, argon2_memory_kib=16_384, argon2_time_cost=2
    )
    clients = [await hub.lobby() for _ in range(8)]
    answers = await asyncio.gather(
        *(c.request_raw("REGISTER_PLAYER", {"username": f"burst{i}", "password": "secret-pw"}) for i, c in enumerate(clients))
    )
    codes = [a["code"] for a in answers]
    assert codes.count(0) >= 2 and codes.count(106) >= 1, codes
    busy = next(a for a in answers if a["code"] == 106)
    assert busy["payload"]["retry_after_s"] >= 1 and "busy" in busy["message"]
    assert hub.app.accounts.passwords.in_flight == 0


async def test_changed_argon2_parameters_rehash_on_login(tmp_path: Path) -> None:
    old = PlayHubApp(settings_for_tests(tmp_path / "data"))
    await old.start()
    h = Harness(old)
    await h.player("legacy")
    await h.close()
    app = PlayHubApp(settings_for_tests(tmp_path / "data", argon2_memory_kib=2_048, argon2_time_cost=2))
    await app.start()
    new = Harness(app)
    stored = new.app.db.run_sync(accounts_repo.find, "player", "legacy").password_hash
    assert "m=1024,t=1" in stored
    await (await new.lobby()).login_player("legacy", "secret-pw")
    upgraded = new.app.db.run_sync(accounts_repo.find, "player", "legacy").password_hash
    assert "m=2048,t=2" in upgraded and upgraded != stored
    assert PasswordHasher().verify(upgraded, "secret-pw")
    await (await new.lobby()).login_player("legacy", "secret-pw")  # and the new hash works
    assert new.app.db.run_sync(accounts_repo.find, "player", "legacy").password_hash == upgraded
    await new.close()


async def test_hash_of_the_old_default_parameters_upgrades_on_login(tmp_path: Path) -> None:
    # The account was stored by the earlier default: argon2-cffi, m=19 MiB, t=2. Today's default hashes with libsodium
    # at OWASP's m=7 MiB, t=5 set.
    old = PlayHubApp(settings_for_tests(tmp_path / "data"))
    await old.start()
    h = Harness(old)
    await h.player("veteran")
    legacy = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1).hash("secret-pw")
    row = old.db.run_sync(accounts_repo.find, "player", "veteran")
    old.db.run_sync(accounts_repo.set_password_hash, row.id, legacy)
    await h.close()
    defaults = Settings()
    assert (defaults.argon2_memory_kib, defaults.argon2_time_cost) == (7_168, 5)
    app = PlayHubApp(settings_for_tests(tmp_path / "data", argon2_memory_kib=7_168, argon2_time_cost=5))
    await app.start()
    new = Harness(app)
    try:
        lobby = await new.lobby()
        with pytest.raises(Unauthorized):
            await lobby.login_player("veteran", "wrong-pw")
        assert new.app.db.run_sync(accounts_repo.find, "player", "veteran").password_hash == legacy
        await lobby.login_player("veteran", "secret-pw")
        upgraded = new.app.db.run_sync(accounts_repo.find, "player", "veteran").password_hash
        assert upgraded.startswith("$argon2id$v=19$m=7168,t=5,p=1$"), upgraded
        assert PasswordHasher().verify(upgraded, "secret-pw")  # the standard format: any argon2 library reads it
        await (await new.lobby()).login_player("veteran", "secret-pw")  # still logs in, and is not rehashed again
        assert new.app.db.run_sync(accounts_repo.find, "player", "veteran").password_hash == upgraded
        with pytest.raises(Unauthorized):
            await (await new.lobby()).login_player("veteran", "wrong-pw")
    finally:
        await new.close()


def test_password_service_reads_other_argon2_hashes() -> None:
    service = PasswordService(Settings(hash_concurrency=1, argon2_memory_kib=1024, argon2_time_cost=1))
    try:
        hasher = service.hasher
        mine = hasher.hash("pw-123456")
        assert mine.startswith("$argon2id$v=19$m=1024,t=1,p=1$") and not hasher.needs_rehash(mine)
        for other in (
            PasswordHasher(time_cost=1, memory_cost=2048, parallelism=2).hash("pw-123456"),  # two lanes
            PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.I).hash("pw-123456"),
            PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.D).hash("pw-123456"),
        ):
            assert hasher.verify(other, "pw-123456") and not hasher.verify(other, "pw-1234567")
            assert hasher.needs_rehash(other)
        for broken in ("", "plaintext", "$argon2id$v=19$m=1024,t=1,p=1$bad", mine[:-4], "$argon2id$\ud800"):
            assert not hasher.verify(broken, "pw-123456")
        assert hasher.verify(hasher.hash("\ud800-lone"), "\ud800-lone")  # a lone surrogate from JSON hashes too
    finally:
        service.close()


def test_libsodium_hashing_releases_the_gil() -> None:
    # A hash long enough to see: while it runs in another thread, this thread must keep running Python.
    service = PasswordService(Settings(hash_concurrency=1, argon2_memory_kib=65_536, argon2_time_cost=3))
    try:
        worker = threading.Thread(target=service.hasher.hash, args=("secret-pw",))
        gaps, last = [], time.perf_counter()
        t0 = last
        worker.start()
        while worker.is_alive():
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
        took = time.perf_counter() - t0
        assert took > 0.05, took
        assert max(gaps) < took / 2, (max(gaps), took)
    finally:
        service.close()


def test_hash_pool_defaults_to_one_thread_per_core() -> None:
    service = PasswordService(Settings(hash_concurrency=0, argon2_memory_kib=1024, argon2_time_cost=1))
    try:
        assert service.workers == available_cores()
    finally:
        service.close()


def test_attempt_counter_evicts_least_recently_used_when_full() -> None:
    counter = AttemptCounter(limit=2, window_s=60, max_keys=3)
    for key in (b"a", b"b", b"c"):
        counter.add(key, 0.0)
    counter.add(b"a", 1.0)  # a is fresh again
    counter.add(b"d", 2.0)
    assert set(counter.keys()) == {b"a", b"c", b"d"}
    assert counter.blocked_for(b"a", 2.0) > 0
