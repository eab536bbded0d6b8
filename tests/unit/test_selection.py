"""Sender order: supervisor-owned (by the owner's role now), then the requester's, then the
rest; most recently verified first within each group."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import event, given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery import records
from pwrecovery._domain.selection import order_senders

SETTINGS = pr.SenderSettings(
    host="smtp.empresa.mx",
    port=587,
    security=pr.Security.STARTTLS,
    username="envios@empresa.mx",
    from_address="envios@empresa.mx",
)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def sender(
    sender_id: str, owner: str, minutes: int = 0, *, supervisor: bool = False
) -> records.SenderRecord:
    account = pr.SenderAccount(
        id=sender_id, owner=owner, settings=SETTINGS, verified_at=T0 + timedelta(minutes=minutes)
    )
    return records.SenderRecord(account=account, secret=b"blob", owner_supervisor=supervisor)


def ids(records: list[records.SenderRecord]) -> list[str]:
    return [r.account.id for r in records]


def test_supervisor_first_then_requester_then_others() -> None:
    """Supervisor-owned senders come first, then the requester's own, then the rest."""
    records = [
        sender("other", "maria", 30),
        sender("mine", "juan", 20),
        sender("boss", "SUPERVISOR", 10, supervisor=True),
    ]
    assert ["boss", "mine", "other"] == ids(order_senders(records, "juan"))


def test_requester_is_matched_case_insensitively() -> None:
    """ "JUAN" asking finds the sender configured by "juan"."""
    records = [sender("other", "maria", 30), sender("mine", "juan", 0)]
    assert ["mine", "other"] == ids(order_senders(records, "JUAN"))


def test_requester_is_matched_across_widths() -> None:
    """A full-width login meets its ASCII form (NFKC then casefold)."""
    records = [sender("other", "maria", 30), sender("mine", "Juan", 0)]
    assert ["mine", "other"] == ids(order_senders(records, "ＪＵＡＮ"))


def test_no_requester_means_supervisor_then_rest() -> None:
    """With nobody in particular asking, only supervisor-owned senders are promoted."""
    records = [
        sender("juan-new", "juan", 50),
        sender("boss", "SUPERVISOR", 0, supervisor=True),
        sender("maria-old", "maria", 10),
    ]
    assert ["boss", "juan-new", "maria-old"] == ids(order_senders(records, None))


def test_most_recently_verified_first_within_a_group() -> None:
    """Inside one group the most recently verified sender is tried first."""
    records = [
        sender("a", "maria", 10),
        sender("b", "pedro", 30),
        sender("c", "ana", 20),
    ]
    assert ["b", "c", "a"] == ids(order_senders(records, "juan"))


def test_ties_are_broken_by_id() -> None:
    """Senders verified at the same instant in one group are ordered by id."""
    records = [sender("s3", "maria", 5), sender("s1", "pedro", 5), sender("s2", "ana", 5)]
    assert ["s1", "s2", "s3"] == ids(order_senders(records, None))


def test_order_does_not_depend_on_input_order() -> None:
    """The same senders in any input order give the same result."""
    records = [
        sender("s2", "maria", 5),
        sender("s1", "pedro", 5),
        sender("boss", "SUPERVISOR", 1, supervisor=True),
        sender("mine", "juan", 0),
    ]
    expected = ["boss", "mine", "s1", "s2"]
    assert expected == ids(order_senders(records, "juan"))
    assert expected == ids(order_senders(list(reversed(records)), "juan"))


def test_a_disabled_supervisors_senders_lose_their_rank() -> None:
    """The rank follows the owner's role now (owner_supervisor, which a store fills in on
    reading): a supervisor who has been disabled or demoted no longer promotes their
    senders, which go back among the others by recency."""
    records = [
        sender("old-boss", "SUPERVISOR", 40, supervisor=False),
        sender("boss", "jefa", 0, supervisor=True),
        sender("mine", "juan", 10),
        sender("other", "maria", 30),
    ]
    assert ["boss", "mine", "old-boss", "other"] == ids(order_senders(records, "juan"))


def test_a_former_supervisor_asking_gets_their_own_first_among_the_rest() -> None:
    """A sender whose owner lost the supervisor role still counts as the requester's own
    when that owner asks."""
    records = [sender("other", "maria", 30), sender("mine", "SUPERVISOR", 0, supervisor=False)]
    assert ["mine", "other"] == ids(order_senders(records, "supervisor"))


def test_empty_list_gives_empty_order() -> None:
    """No senders, nothing to try."""
    assert [] == order_senders([], "juan")


OWNERS = st.sampled_from(["juan", "JUAN", "Juan", "maria", "SUPERVISOR", "pedro"])
REQUESTERS = st.one_of(st.none(), st.sampled_from(["juan", "Juan", "maria", "nadie"]))


@st.composite
def sender_lists(draw: st.DrawFn) -> list[records.SenderRecord]:
    """Up to twelve senders; in about half the lists no supervisor owns any."""
    supervisors = draw(st.booleans())
    count = draw(st.integers(min_value=0, max_value=12))
    sender_ids = draw(
        st.lists(
            st.text(alphabet="abcdef0123", min_size=1, max_size=4),
            min_size=count,
            max_size=count,
            unique=True,
        )
    )
    return [
        sender(
            sender_id,
            draw(OWNERS),
            draw(st.integers(min_value=0, max_value=5)),
            supervisor=supervisors and draw(st.booleans()),
        )
        for sender_id in sender_ids
    ]


def rank(record: records.SenderRecord, requester: str | None) -> int:
    if record.owner_supervisor:
        return 0
    if requester is not None and record.account.owner.casefold() == requester.casefold():
        return 1
    return 2


@given(records=sender_lists(), requester=REQUESTERS)
def test_order_is_a_permutation(records: list[records.SenderRecord], requester: str | None) -> None:
    """Every sender appears exactly once in the result."""
    result = order_senders(records, requester)
    assert Counter(ids(records)) == Counter(ids(result))


@given(records=sender_lists(), requester=REQUESTERS)
def test_group_ranks_are_non_decreasing(
    records: list[records.SenderRecord], requester: str | None
) -> None:
    """Supervisor-owned, then requester's own, then others: ranks never go back."""
    ranks = [rank(r, requester) for r in order_senders(records, requester)]
    assert sorted(ranks) == ranks


@given(records=sender_lists(), requester=REQUESTERS)
def test_recency_then_id_within_a_group(
    records: list[records.SenderRecord], requester: str | None
) -> None:
    """Within a group verified_at never increases; equal instants go by ascending id."""
    result = order_senders(records, requester)
    for first, second in itertools.pairwise(result):
        if rank(first, requester) != rank(second, requester):
            continue
        event("a pair in one group")
        assert first.account.verified_at >= second.account.verified_at
        if first.account.verified_at == second.account.verified_at:
            event("a pair verified at one instant")
            assert first.account.id < second.account.id


@given(records=sender_lists(), requester=REQUESTERS)
def test_a_supervisor_owned_sender_comes_first_when_any_exists(
    records: list[records.SenderRecord], requester: str | None
) -> None:
    """If any sender is supervisor-owned, the first one tried is supervisor-owned."""
    result = order_senders(records, requester)
    event("a supervisor's sender" if any(r.owner_supervisor for r in records) else "none")
    if any(r.owner_supervisor for r in records):
        assert result[0].owner_supervisor is True
