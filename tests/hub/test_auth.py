"""satco2.hub.auth without a hub: back-off, constant-cost checks, bcrypt off the event loop, the
72-byte limit, reserved and odd names, the admin account from its file (fast; an in-memory
database). tests/hub/test_login.py checks the same through a real hub."""
from __future__ import annotations

import asyncio
import re
import statistics
import time

import pytest
from jupyterhub import orm

from satco2.hub.auth import (MSG_INVALID, MSG_NAME_RULE, MSG_TOO_LONG_LOGIN, MSG_TOO_LONG_SIGNUP,
                             SatCO2Authenticator, backoff_wait)

PW = "a-long-password-1"


class Handler:
    satco2_login_error = None


def make(tmp_path=None, **kw):
    db = orm.new_session_factory("sqlite://")()
    kw.setdefault("reserved_usernames", {"examples", "dashboards"})
    kw.update(minimum_password_length=10, check_common_password=True)  # as jupyterhub_config.py
    return SatCO2Authenticator(_deprecated_db_session=db, admin_users={"boss"}, **kw)


async def login(a, name, password):
    h = Handler()
    return await a.authenticate(h, {"username": name, "password": password}), h.satco2_login_error


async def approved(a, name, password=PW):
    user = await a.store_account(name, password)
    user.is_authorized = True
    a.db.commit()
    return user


def one_sentence(msg: str) -> bool:
    return msg[:1].isupper() and msg.endswith(".") and not re.search(r"[.!?]\s", msg[:-1])


def test_backoff_doubles_from_max_failures_up_to_the_cap():
    assert backoff_wait(4, 5, 30, 3600) == 0
    assert [backoff_wait(n, 5, 30, 3600) for n in (5, 6, 7)] == [30, 60, 120]
    assert backoff_wait(12, 5, 30, 3600) == 3600
    assert backoff_wait(10_000, 5, 30, 3600) == 3600  # no overflow


def test_lockout_refuses_the_right_password_and_says_to_wait():
    a = make(max_failures=3, backoff_seconds=0.6)

    async def run():
        await approved(a, "zoe")
        for _ in range(3):
            assert await login(a, "zoe", "wrong-password") == (None, MSG_INVALID)
        name, msg = await login(a, "zoe", PW)
        assert name is None and "wait 1 s" in msg and one_sentence(msg)
        await asyncio.sleep(0.7)
        assert (await login(a, "zoe", PW))[0] == "zoe"  # after the wait, and the count resets
        for _ in range(3):
            await login(a, "zoe", "wrong-password")
        await asyncio.sleep(0.7)
        await login(a, "zoe", "wrong-password")  # a 4th failure doubles the wait
        assert 0.9 < a.seconds_to_wait("zoe") <= 1.2
        # unknown names are counted the same way, so the lock tells nothing
        for _ in range(3):
            await login(a, "ghost", "wrong-password")
        assert "wait" in (await login(a, "ghost", "x"))[1]

    asyncio.run(run())


def test_unknown_names_cost_as_much_as_known_ones():
    a = make(max_failures=100)

    async def run():
        await approved(a, "zoe")
        known, unknown = [], []
        for i in range(4):
            for name, out in (("zoe", known), (f"ghost{i}", unknown)):
                t = time.perf_counter()
                assert await login(a, name, "wrong-password") == (None, MSG_INVALID)
                out.append(time.perf_counter() - t)
        ratio = statistics.median(known) / statistics.median(unknown)
        assert 0.5 < ratio < 2, (known, unknown)
        assert statistics.median(unknown) > 0.02  # a real bcrypt check, not a shortcut

    asyncio.run(run())


def test_bcrypt_runs_off_the_event_loop():
    """While 8 wrong-password logins hash, a 10 ms ticker on the same loop keeps its pace."""
    a = make(max_failures=100, hash_threads=2)

    async def run():
        lags, done = [], False

        async def ticker():
            while not done:
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - t - 0.01)

        tick = asyncio.create_task(ticker())
        await asyncio.gather(*(login(a, f"ghost{i}", "wrong-password") for i in range(8)))
        done = True
        await tick
        return lags

    lags = asyncio.run(run())
    assert len(lags) > 20 and statistics.median(lags) < 0.05, lags


def test_passwords_longer_than_72_bytes_get_one_sentence():
    a = make()
    for long in ("x" * 73, "é" * 37):  # 73 and 74 bytes
        assert a.signup_password_problem(long, long) == MSG_TOO_LONG_SIGNUP
        assert a.create_user("zoe", long) is None and a.change_password("boss", long) is None
    assert a.signup_password_problem("x" * 72, "x" * 72) is None
    assert one_sentence(MSG_TOO_LONG_SIGNUP) and one_sentence(MSG_TOO_LONG_LOGIN)

    async def run():
        await approved(a, "zoe", "y" * 72)
        assert await login(a, "zoe", "y" * 73) == (None, MSG_TOO_LONG_LOGIN)
        assert (await login(a, "zoe", "y" * 72))[0] == "zoe"

    asyncio.run(run())


@pytest.mark.parametrize("name, why", [
    ("root", "system account"), ("daemon", "system account"), ("nobody", "system account"),
    ("examples", "reserved"), ("boss", "reserved"), ("dashboards", "reserved"),
    ("-rf", MSG_NAME_RULE), ("a" * 300, MSG_NAME_RULE), ("9lives", MSG_NAME_RULE),
    ("a.b", MSG_NAME_RULE), ("", "Choose a user name."),
])
def test_reserved_and_odd_names_are_refused_in_one_sentence(name, why):
    msg = make().signup_name_problem(name)
    assert msg and why in msg and one_sentence(msg), msg


def test_sign_up_checks_in_order_and_accepts_a_good_name():
    a = make()
    assert a.signup_name_problem("zoe") is None
    asyncio.run(a.store_account("zoe", PW))
    assert "already taken" in a.signup_name_problem("zoe")
    assert "at least 10 characters" in a.signup_password_problem("short", "short")
    assert "not be a common" in a.signup_password_problem("password", "password")
    assert "differ" in a.signup_password_problem(PW, PW + "x")
    assert not a.validate_username("-rf") and a.validate_username("zoe_2")


def test_admin_account_is_created_from_its_file(tmp_path):
    f = tmp_path / "admin_password"
    f.write_text("the-admin-password\n")
    a = make(admin_password_file=str(f))
    info = a.get_user("boss")
    assert info is not None and info.is_authorized
    assert asyncio.run(login(a, "boss", "the-admin-password"))[0] == "boss"
    # a second start keeps the account (and a changed password) as it is
    a.change_password("boss", "a-new-admin-password")
    b = SatCO2Authenticator(_deprecated_db_session=a.db, admin_users={"boss"}, admin_password_file=str(f))
    assert asyncio.run(login(b, "boss", "a-new-admin-password"))[0] == "boss"
