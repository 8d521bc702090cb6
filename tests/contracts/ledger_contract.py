"""What any ledger (``stream_app.ports.LedgerPort``) must do, as one suite run against every
implementation: the Postgres ``Ledger`` (tests/integration/test_postgres_ledger_contract.py) and the
in-memory fake (tests/unit/test_memory_ledger_contract.py). A subclass provides the fixture
``open_ledger``; each test uses users and partitions of its own, so they share a database safely.
The scenarios' log and event builders are in ``tests.contracts.ledger_scenarios``."""

from __future__ import annotations

from scoreboard.domain.boards import boards_for
from scoreboard.domain.events import ActionCompleted, UserBanned, UserUnbanned
from scoreboard.domain.policy import DAY_US
from scoreboard.domain.scoring import Positioned, Rejection, Standing
from stream_app.ports import LedgerPort
from tests.contracts.ledger_moderation_contract import LedgerModerationContract
from tests.contracts.ledger_scenarios import JUDGE, NOW, SECOND, T0, Log, OpenLedger, act, adjust, on_boards, run


class LedgerContract(LedgerModerationContract):
    """Dedup, replays, standings, rejections, bans and the policy's usage counters; moderation is
    inherited from ``LedgerModerationContract``."""

    def test_a_batch_returns_the_standings_it_changed_on_every_board(self, open_ledger: OpenLedger) -> None:
        """Two actions of ann and an adjustment of bob: one entry each, the running total, and the
        standings (score, seq, the time the score was reached) on the global, daily and weekly boards."""
        log = Log()
        ann, bob = log.user("ann"), log.user("bob")
        batch = log.append(act(ann, "n1", 100), act(ann, "n2", 50, T0 + SECOND), adjust(bob, "k1", 30, T0 + 2 * SECOND))

        async def scenario(ledger: LedgerPort) -> None:
            applied = await ledger.apply_batch(batch, NOW)
            outcome = applied.outcome
            assert [(e.user_id, e.points, e.total_after, e.offset) for e in outcome.accepted] == [
                (ann, 100, 100, 0), (ann, 50, 150, 1), (bob, 30, 30, 2)]
            assert [(e.action_id, e.nonce) for e in outcome.accepted] == [
                ("match", "n1"), ("match", "n2"), ("adjustment", "admin/k1")]
            assert outcome.changed == (on_boards(ann, Standing(150, 2, T0 + SECOND))
                                       | on_boards(bob, Standing(30, 1, T0 + 2 * SECOND)))
            assert outcome.next_offsets == {log.partition: 3}
            assert not (outcome.rejected or outcome.duplicates or outcome.replayed)
            assert not (applied.replayed_entries or applied.replayed_rejections or applied.replayed_standings)

        run(open_ledger, scenario)

    def test_the_next_batch_builds_on_the_standings_kept(self, open_ledger: OpenLedger) -> None:
        """A later batch adds to the stored score and seq; zero points keep the time it was reached."""
        log = Log()
        ann = log.user("ann")

        async def scenario(ledger: LedgerPort) -> None:
            await ledger.apply_batch(log.append(act(ann, "n1", 100)), NOW)
            second = await ledger.apply_batch(log.append(act(ann, "n2", 50, T0 + SECOND)), NOW)
            third = await ledger.apply_batch(log.append(act(ann, "n3", 0, T0 + 2 * SECOND)), NOW)
            assert second.outcome.changed == on_boards(ann, Standing(150, 2, T0 + SECOND))
            assert [e.total_after for e in second.outcome.accepted] == [150]
            assert third.outcome.changed == on_boards(ann, Standing(150, 3, T0 + SECOND))

        run(open_ledger, scenario)

    def test_a_recorded_nonce_at_a_new_offset_is_a_duplicate(self, open_ledger: OpenLedger) -> None:
        """A client retry (same user and nonce, a new offset) in the same or a later batch is dropped;
        an adjustment with the same key is not a duplicate of the action (its nonce is ``admin/<key>``)."""
        log = Log()
        ann = log.user("ann")
        first = act(ann, "n1", 100)
        retry = ActionCompleted(first.event_id, ann, "match", "n1", 100, "c1", T0 + SECOND)

        async def scenario(ledger: LedgerPort) -> None:
            one = await ledger.apply_batch(log.append(first, retry), NOW)
            two = await ledger.apply_batch(log.append(retry, adjust(ann, "n1", 7, T0 + 2 * SECOND)), NOW)
            assert [e.offset for e in one.outcome.accepted] == [0] and one.outcome.duplicates == [retry]
            assert two.outcome.duplicates == [retry]
            assert [(e.nonce, e.total_after) for e in two.outcome.accepted] == [("admin/n1", 107)]
            assert two.outcome.next_offsets == {log.partition: 4} and not two.outcome.replayed

        run(open_ledger, scenario)

    def test_a_replayed_batch_changes_nothing_and_brings_back_its_effects(self, open_ledger: OpenLedger) -> None:
        """The same offsets again (a crash before the offset commit): every event is a replay, nothing is
        applied, and the entries, the rejections (as first recorded) and the current standings of the
        events' users come back to be sent downstream again."""
        log = Log()
        ann, bob, cyd = log.user("ann"), log.user("bob"), log.user("cyd")
        before = log.append(act(cyd, "c1", 20, T0 - DAY_US))
        batch = log.append(act(ann, "n1", 100), act(ann, "n1", 100), adjust(bob, "k1", -10),
                           UserBanned(f"ban/{cyd}", cyd, "cheating", "root", T0 + SECOND))

        async def scenario(ledger: LedgerPort) -> None:
            await ledger.apply_batch(before, NOW)
            first = await ledger.apply_batch(batch, NOW)
            again = await ledger.apply_batch(batch, NOW + 60 * SECOND)
            assert [r.reason.split(":")[0] for r in first.outcome.rejected] == ["negative-score"]
            assert again.outcome.replayed == batch
            assert not (again.outcome.accepted or again.outcome.changed or again.outcome.rejected
                        or again.outcome.duplicates or again.outcome.statuses or again.outcome.next_offsets)
            assert sorted(again.replayed_entries, key=lambda e: e.offset) == first.outcome.accepted
            assert again.replayed_rejections == first.outcome.rejected
            assert again.replayed_standings == (on_boards(ann, Standing(100, 1, T0))
                                                | on_boards(cyd, Standing(20, 2, T0 - DAY_US, False), T0 - DAY_US))

        run(open_ledger, scenario)

    def test_a_batch_reaching_past_the_applied_offsets_replays_only_the_applied_part(
            self, open_ledger: OpenLedger) -> None:
        """Offsets 0-1 applied, then 0-3 come: 0-1 are replays (re-emitted), 2-3 are applied."""
        log = Log()
        ann = log.user("ann")
        head = log.append(act(ann, "n1", 100), act(ann, "n2", 100, T0 + SECOND))
        tail = log.append(act(ann, "n3", 100, T0 + 2 * SECOND), act(ann, "n4", 100, T0 + 3 * SECOND))

        async def scenario(ledger: LedgerPort) -> None:
            await ledger.apply_batch(head, NOW)
            applied = await ledger.apply_batch(head + tail, NOW)
            assert applied.outcome.replayed == head
            assert [(e.offset, e.total_after) for e in applied.outcome.accepted] == [(2, 300), (3, 400)]
            assert sorted(e.offset for e in applied.replayed_entries) == [0, 1]
            assert applied.outcome.next_offsets == {log.partition: 4}
            assert applied.standings_to_write() == on_boards(ann, Standing(400, 4, T0 + 3 * SECOND))

        run(open_ledger, scenario)

    def test_each_partition_keeps_its_own_position(self, open_ledger: OpenLedger) -> None:
        """Offset 0 applied on one partition says nothing about offset 0 of another."""
        log = Log()
        ann, bob = log.user("ann"), log.user("bob")
        other = log.partition + 1

        async def scenario(ledger: LedgerPort) -> None:
            await ledger.apply_batch(log.append(act(ann, "n1", 10)), NOW)
            log.offset = 0
            applied = await ledger.apply_batch(log.append(act(bob, "n1", 20), partition=other), NOW)
            assert [(e.user_id, e.partition, e.offset) for e in applied.outcome.accepted] == [(bob, other, 0)]
            assert not applied.outcome.replayed

        run(open_ledger, scenario)

    def test_a_ban_hides_every_board_of_the_user_and_refuses_its_actions_until_the_unban(
            self, open_ledger: OpenLedger) -> None:
        """Standings on boards of two days (and two ISO weeks) all become hidden with seq + 1, later
        actions are rejected ``banned``, and an unban shows every board again."""
        log = Log()
        ann = log.user("ann")
        sunday, monday = T0 - DAY_US, T0
        boards = {*boards_for(sunday), *boards_for(monday)}

        async def scenario(ledger: LedgerPort) -> None:
            await ledger.apply_batch(log.append(act(ann, "n1", 10, sunday), act(ann, "n2", 5, monday)), NOW)
            banned = await ledger.apply_batch(log.append(UserBanned(f"ban/{ann}", ann, "r", "root", T0 + SECOND)), NOW)
            refused = await ledger.apply_batch(log.append(act(ann, "n3", 100, T0 + 2 * SECOND)), NOW)
            shown = await ledger.apply_batch(log.append(UserUnbanned(f"unban/{ann}", ann, "r", "root",
                                                                     T0 + 3 * SECOND)), NOW)
            assert {board for board, _ in banned.outcome.changed} == boards
            assert banned.outcome.changed[("global", ann)] == Standing(15, 3, monday, False)
            assert banned.outcome.changed[("daily:2026-11-29", ann)] == Standing(10, 2, sunday, False)
            assert banned.outcome.statuses[ann].banned
            assert [(r.user_id, r.reason.split(":")[0], r.rejected_at_us) for r in refused.outcome.rejected] == [
                (ann, "banned", NOW)]
            assert not refused.outcome.accepted and not refused.outcome.changed
            assert shown.outcome.changed[("global", ann)] == Standing(15, 4, monday, True)
            assert {board for board, _ in shown.outcome.changed} == boards

        run(open_ledger, scenario)

    def test_the_usage_counters_carry_the_policy_across_batches(self, open_ledger: OpenLedger) -> None:
        """A daily cap, a cooldown and the hourly points budget judged over usage kept by earlier
        batches; a rejected action uses nothing (it starts no cooldown, spends no budget)."""
        log = Log()
        ann = log.user("ann")

        def codes(outcome_rejected: list[Rejection], offsets: list[int]) -> list[str]:
            reasons = {r.offset: r.reason.split(":")[0] for r in outcome_rejected}
            return [reasons.get(offset, "ok") for offset in offsets]

        batches = [
            log.append(act(ann, "a", 5, T0, "login"), act(ann, "b", 100, T0, "match")),
            log.append(act(ann, "c", 5, T0 + 10 * SECOND, "login"), act(ann, "d", 100, T0 + 30 * SECOND, "match"),
                       act(ann, "e", 7, T0 + 40 * SECOND, "match"), act(ann, "f", 100, T0 + 61 * SECOND, "match")),
            log.append(act(ann, "g", 50, T0 + 62 * SECOND, "level"), act(ann, "h", 50, T0 + 63 * SECOND, "level")),
            log.append(act(ann, "i", 5, T0 + DAY_US, "login"), act(ann, "j", 100, T0 + 7 * 60 * SECOND, "match",
                                                                   version="c0")),
        ]

        async def scenario(ledger: LedgerPort) -> list[list[str]]:
            decided = []
            for batch in batches:
                applied = await ledger.apply_batch(batch, NOW)
                decided.append(codes(applied.outcome.rejected, [p.offset for p in batch]))
            return decided

        assert run(open_ledger, scenario, JUDGE) == [
            ["ok", "ok"], ["cap", "cooldown", "points-mismatch", "ok"], ["ok", "budget"], ["ok", "catalog-version"]]

    def test_a_record_far_from_its_broker_time_is_rejected_for_time_skew(self, open_ledger: OpenLedger) -> None:
        """Judged against the record's Kafka timestamp: a backdated action is refused and kept as a rejection."""
        log = Log()
        ann = log.user("ann")
        backdated = Positioned(act(ann, "n1", 100, T0 - 3600 * SECOND), log.partition, 0, T0)

        async def scenario(ledger: LedgerPort) -> None:
            applied = await ledger.apply_batch([backdated], NOW)
            assert [r.reason.split(":")[0] for r in applied.outcome.rejected] == ["time-skew"]
            again = await ledger.apply_batch([backdated], NOW)
            assert again.replayed_rejections == applied.outcome.rejected and not again.replayed_standings

        run(open_ledger, scenario, JUDGE)

    def test_a_poison_record_is_kept_once_and_a_replay_of_its_offset_reannounces_it(
            self, open_ledger: OpenLedger) -> None:
        """``record_poison`` twice keeps the first; once a later offset is applied, a replay of the
        batch brings the poison rejection back with the entries around it."""
        log = Log()
        ann = log.user("ann")
        batch = log.append(act(ann, "n1", 1), act(ann, "n2", 2, T0 + SECOND), act(ann, "n3", 3, T0 + 2 * SECOND))
        poison = Rejection(batch[1].event.event_id, ann, "poison: KeyError: 'x'", log.partition, 1, NOW)

        async def scenario(ledger: LedgerPort) -> None:
            await ledger.apply_batch(batch[:1], NOW)
            await ledger.record_poison(poison)
            await ledger.record_poison(Rejection(poison.event_id, ann, "poison: again", log.partition, 1, NOW + 1))
            await ledger.apply_batch(batch[2:], NOW)
            replay = await ledger.apply_batch(batch, NOW)
            assert replay.outcome.replayed == batch
            assert replay.replayed_rejections == [poison]
            assert sorted((e.offset, e.total_after) for e in replay.replayed_entries) == [(0, 1), (2, 4)]

        run(open_ledger, scenario)
