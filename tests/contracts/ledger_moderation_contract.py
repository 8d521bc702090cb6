"""What any ledger must do with moderation events (``UserFlagged``, ``ReviewDecided``, ``ActionsPurged``): the
part of the ledger contract (``tests.contracts.ledger_contract``, which inherits it) about reviews, held
points and purges."""

from __future__ import annotations

from scoreboard.domain.boards import boards_for
from scoreboard.domain.events import ActionsPurged, UserFlagged
from scoreboard.domain.policy import DAY_US
from scoreboard.domain.scoring import Standing
from stream_app.ports import LedgerPort
from tests.contracts.ledger_scenarios import NOW, SECOND, T0, Log, OpenLedger, act, decided, flagged_by_hand, run


class LedgerModerationContract:
    """Reviews hide a user and hold new points; approve releases them, reject voids them; purges void."""

    def test_a_review_hides_the_user_holds_new_points_and_approve_releases_them(
            self, open_ledger: OpenLedger) -> None:
        """A moderator's flag hides every board of the user (two days here); an action while it is pending
        is a held entry, off the boards; approve releases it at its own time, with a ScoreChanged."""
        log = Log()
        ann = log.user("ann")
        sunday, monday = T0 - DAY_US, T0

        async def scenario(ledger: LedgerPort) -> None:
            await ledger.apply_batch(log.append(act(ann, "n1", 10, sunday)), NOW)
            flagged = await ledger.apply_batch(log.append(flagged_by_hand(ann, monday)), NOW)
            held = await ledger.apply_batch(log.append(act(ann, "n2", 100, monday + SECOND)), NOW)
            approved = await ledger.apply_batch(log.append(decided(ann, "approve", monday + 9 * SECOND)), NOW)
            assert {board for board, _ in flagged.outcome.changed} == set(boards_for(sunday))
            assert flagged.outcome.changed[("global", ann)] == Standing(10, 2, sunday, False)
            assert [e.state for e in held.outcome.accepted] == ["held"] and not held.outcome.changed
            assert held.outcome.score_changes() == [] and held.held_totals == {ann: 100}
            assert approved.outcome.changed[("global", ann)] == Standing(110, 4, monday + SECOND, True)
            assert [(c.points, c.total) for c in approved.outcome.score_changes()] == [(100, 110)]
            assert approved.outcome.reviews[ann].state == "approved"

        run(open_ledger, scenario)

    def test_reject_voids_held_and_evidence_window_points_and_a_replay_resends_the_changes(
            self, open_ledger: OpenLedger) -> None:
        log = Log()
        ann = log.user("ann")

        async def scenario(ledger: LedgerPort) -> None:
            await ledger.apply_batch(log.append(act(ann, "n1", 10, T0 - 60 * SECOND)), NOW)
            await ledger.apply_batch(log.append(UserFlagged(f"f/{ann}", ann, "manual", "{}", T0 - 90 * SECOND,
                                                            False, "mod", -1, -1, T0)), NOW)
            await ledger.apply_batch(log.append(act(ann, "n2", 100, T0 + SECOND)), NOW)
            decision = log.append(decided(ann, "reject", T0 + 9 * SECOND))
            rejected = await ledger.apply_batch(decision, NOW)
            again = await ledger.apply_batch(decision, NOW)
            assert rejected.outcome.changed[("global", ann)] == Standing(0, 4, T0 - 60 * SECOND, True)
            assert [(c.points, c.total) for c in rejected.outcome.score_changes()] == [(-10, 0)]
            assert again.replayed_moderation == rejected.outcome.score_changes()

        run(open_ledger, scenario)

    def test_a_purge_voids_its_action_in_its_window_on_its_partition_only(self, open_ledger: OpenLedger) -> None:
        log = Log()
        ann, bob = log.user("ann"), log.user("bob")

        async def scenario(ledger: LedgerPort) -> None:
            await ledger.apply_batch(log.append(act(ann, "n1", 50, T0, "level"), act(ann, "n2", 100, T0),
                                                act(bob, "n1", 50, T0 + 200 * SECOND, "level")), NOW)
            purged = await ledger.apply_batch(log.append(ActionsPurged(
                f"purge/{log.run}", log.run, "level", T0 - SECOND, T0 + 100 * SECOND, (), "mod", "exploit",
                T0 + 300 * SECOND)), NOW)
            assert purged.outcome.changed[("global", ann)].score == 100
            assert ("global", bob) not in purged.outcome.changed
            assert [(c.user_id, c.points, c.total) for c in purged.outcome.score_changes()] == [(ann, -50, 100)]

        run(open_ledger, scenario)
