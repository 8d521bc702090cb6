"""Swarm: new accounts behind one hash acting in lockstep flag; one address alone (carrier NAT, a school,
old accounts in step, new accounts at their own pace) never does."""

from __future__ import annotations

import dataclasses
import math
import random

from scoreboard.domain.detection import DetectionConfig, Flag, Observation, PartitionDetectors, SwarmConfig

SECOND = 1_000_000
DAY = 86_400 * SECOND
START = 1_796_000_000 * SECOND
ONLY_SWARM = DetectionConfig(
    velocity=dataclasses.replace(DetectionConfig().velocity, enabled=False),
    regularity=dataclasses.replace(DetectionConfig().regularity, enabled=False),
    rank_jump=dataclasses.replace(DetectionConfig().rank_jump, enabled=False),
)
Action = tuple[int, str, str, int, str, str]  # (at_us, user, action, first_seen_us, client hash, device hash)


def detect(actions: list[Action], config: DetectionConfig = ONLY_SWARM) -> list[Flag]:
    detectors = PartitionDetectors(config)
    scores: dict[str, int] = {}
    flags = []
    for offset, (at, user, action, first_seen, client, device) in enumerate(sorted(actions)):
        scores[user] = scores.get(user, 0) + 50
        flags += detectors.observe(Observation(1, offset, user, action, 50, at, scores[user], first_seen, client,
                                               device))
    return flags


def swarm(accounts: int, rounds: int, client: str = "nat-1", device: str = "", seed: int = 0) -> list[Action]:
    """One script driving ``accounts`` fresh accounts: every ~95 s all complete a level within ~2 s."""
    rng = random.Random(seed)
    born = START - 3600 * SECOND
    actions = []
    for round_no in range(rounds):
        moment = START + round_no * int(95 * SECOND)
        for index in range(accounts):
            at = moment + int(rng.uniform(0, 2) * SECOND)
            actions.append((at, f"bot{index}", "complete-level", born + index * SECOND, client, device))
    return actions


def crowd(users: int, hours: float, first_seen: int, client: str = "nat-1", seed: int = 1) -> list[Action]:
    """Honest players behind one address, each at their own log-normal pace."""
    rng = random.Random(seed)
    actions = []
    for index in range(users):
        at = START + int(rng.uniform(0, 600) * SECOND)
        while at < START + hours * 3600 * SECOND:
            at += int(rng.lognormvariate(math.log(240), 0.7) * SECOND)
            action = "complete-level" if rng.random() < 0.7 else "win-match"
            actions.append((at, f"h{index}", action, first_seen or at, client, ""))
    return actions


def test_new_accounts_acting_in_lockstep_behind_one_address_are_flagged() -> None:
    """Four fresh accounts doing the same level within 2 s, round after round: all four flagged, held from
    their first action ever."""
    flags = detect(swarm(4, 12))
    assert {flag.user_id for flag in flags} == {"bot0", "bot1", "bot2", "bot3"}
    first = flags[0]
    assert first.detector == "swarm"
    assert first.hold_from_us == START - 3600 * SECOND + int(first.user_id[3:]) * SECOND
    assert first.evidence["accounts"] == 4
    assert first.at_us < START + 10 * 95 * SECOND  # after about min_co_actions rounds


def test_a_swarm_hidden_in_an_honest_crowd_on_the_same_address_is_still_flagged() -> None:
    """The lockstep accounts stand out of a crowd of new players on the same NAT; the players do not."""
    flags = detect(swarm(5, 20) + crowd(40, 1, first_seen=0))
    assert {flag.user_id for flag in flags} == {f"bot{i}" for i in range(5)}


def test_a_shared_device_hash_is_evidence_too() -> None:
    """Different addresses, one device id: the same rule on the device hash."""
    actions = [(at, user, action, born, f"ip-{user}", "device-9") for at, user, action, born, _, _ in swarm(4, 12)]
    flags = detect(actions)
    assert flags and {flag.evidence["user"]["hash_kind"] for flag in flags} == {"device"}  # type: ignore[index]


def test_many_new_honest_players_behind_one_address_are_not_flagged() -> None:
    """A school or a carrier NAT: 60 accounts made today, busy for 3 h, each at their own pace: no flag."""
    assert detect(crowd(60, 3, first_seen=0)) == []


def test_established_accounts_in_lockstep_behind_one_address_are_not_flagged() -> None:
    """Accounts older than new_account_seconds never count, even acting in step: an address alone is no
    evidence."""
    old = [(at, user, action, born - 30 * 86_400 * SECOND, client, device)
           for at, user, action, born, client, device in swarm(6, 20)]
    assert detect(old) == []


def test_too_few_accounts_in_lockstep_do_not_flag() -> None:
    """Three accounts in step stay below min_accounts (4)."""
    assert detect(swarm(3, 30)) == []


def test_lockstep_now_and_then_is_not_enough() -> None:
    """Accounts meeting in the same slot fewer than min_co_actions times are not partners."""
    assert detect(swarm(6, SwarmConfig().min_co_actions - 1)) == []


def test_a_shadow_swarm_flag_says_so_and_a_disabled_one_never_comes() -> None:
    """shadow=true marks the flags; enabled=false raises none."""
    shadow = detect(swarm(4, 12), dataclasses.replace(ONLY_SWARM, swarm=SwarmConfig(shadow=True)))
    assert shadow and all(flag.shadow for flag in shadow)
    assert detect(swarm(4, 12), dataclasses.replace(ONLY_SWARM, swarm=SwarmConfig(enabled=False))) == []
