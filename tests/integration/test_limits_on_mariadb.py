"""Every limit holds when workstations race for it on a MariaDB server too.

``test_limits_under_concurrency.py`` races threads (each with its own connection) and
spawned processes at the limits on a SQLite file and on PostgreSQL: recovery requests,
sign-in attempts (for a login that exists and one that does not), tries at a
verification code. These are the same races, run here against the third shared store
the library supports, a real MariaDB server on loopback: this module gives them a
``location`` of its own and reuses everything else (fixtures and test functions) as is.
"""

from __future__ import annotations

import pytest

# The fixtures the races ask for, and the races themselves: collected here again, with
# the ``location`` below.
from tests.integration.test_limits_under_concurrency import (  # noqa: F401
    at,
    key,
    pending_code,
    racers,
    store,
    test_a_real_and_an_unknown_login_lock_alike_under_a_race,
    test_a_right_password_racing_wrong_ones_takes_an_attempt_too,
    test_eight_processes_guessing_at_once_check_the_hash_five_times,
    test_eight_processes_pressing_at_once_send_at_most_three_mails,
    test_eight_processes_trying_codes_at_once_check_five,
    test_failed_deliveries_still_count_under_a_race,
    test_forty_threads_guessing_at_once_check_the_hash_five_times,
    test_forty_threads_trying_codes_at_once_check_five,
    test_twenty_threads_pressing_at_once_send_at_most_three_mails,
    workstations,
)


@pytest.fixture
def location(request: pytest.FixtureRequest) -> str:
    """The workstations' shared store: the MariaDB server's test database, no tables left."""
    request.getfixturevalue("mariadb_engine")  # a server with no tables left over
    url: str = request.getfixturevalue("mariadb_url")
    return url


def test_the_races_above_are_every_race_of_the_other_module() -> None:
    """No race of test_limits_under_concurrency.py is left out here."""
    from tests.integration import test_limits_under_concurrency as races  # noqa: PLC0415

    theirs = {name for name in vars(races) if name.startswith("test_")}
    ours = {name for name in globals() if name.startswith("test_") and name in theirs}
    assert theirs == ours
