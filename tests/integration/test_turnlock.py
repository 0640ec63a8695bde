"""The interview's turn claim: renewed while its turn runs, lapsing soon when its process died."""

import asyncio
import time

import pytest

from elicitation import turnlock


@pytest.fixture
def short_claims(monkeypatch):
    monkeypatch.setattr(turnlock, "TURN_LOCK_SECONDS", 1)
    monkeypatch.setattr(turnlock, "TURN_LOCK_RENEW_SECONDS", 0.2)


def test_a_claim_whose_process_died_lapses_and_another_process_may_claim(short_claims):
    assert turnlock.turn_claim(7, "dead-process")
    assert not turnlock.turn_claim(7, "other-process")

    time.sleep(1.3)  # nobody renews the dead process's claim

    assert turnlock.turn_claim(7, "other-process")


async def test_a_running_turn_keeps_its_claim_past_the_claim_lifetime(short_claims):
    assert await asyncio.to_thread(turnlock.turn_claim, 8, "live-process")

    async with turnlock.turn_kept(8, "live-process"):
        await asyncio.sleep(1.6)
        assert not await asyncio.to_thread(turnlock.turn_claim, 8, "other-process")


def test_the_claim_lasts_seconds_not_minutes():
    assert turnlock.TURN_LOCK_SECONDS <= 30
    assert turnlock.TURN_LOCK_RENEW_SECONDS * 2 < turnlock.TURN_LOCK_SECONDS
