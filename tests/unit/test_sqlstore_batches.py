"""The audit rows ``add_users`` writes for a batch are the rows ``_rows.event_row`` writes:
the shortcuts it takes for thousands of users (keys it knows, instants and details
written once) change no byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pwrecovery as pr
from pwrecovery._domain.logins import login_key
from pwrecovery.adapters import _rows
from pwrecovery.adapters._sqlstore import _batch_event_rows

AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def test_batch_rows_are_the_rows_event_row_writes() -> None:
    """Every kind of event (a batch user's, another login's, a fingerprint's, none's;
    repeated and distinct details, non-ASCII text, instants in other zones) gives the
    same row through the batch as through ``event_row``."""
    logins = ["Juan", "José Núñez", "usuario00001"]
    events = [
        pr.AuditEvent("user_imported", "Juan", AT, "MIGRACION", {"scheme": "P", "supervisor": "F"}),
        pr.AuditEvent(
            "user_imported", "José Núñez", AT, "MIGRACION", {"supervisor": "F", "scheme": "P"}
        ),
        pr.AuditEvent(
            "recovery_email_vouched", "José Núñez", AT, None, {"address": "j***@ñandú.mx"}
        ),
        pr.AuditEvent("user_imported", "usuario00001", AT + timedelta(microseconds=1), "M", {}),
        pr.AuditEvent("sign_in_failed", "otro", AT, "CAJA", {"reason": "x"}),
        pr.AuditEvent("sign_in_failed", "#0123456789abcdef", AT, None, {"failures": "1"}),
        pr.AuditEvent("sender_removed", None, AT, None, {"sender": "s-1"}),
        pr.AuditEvent(
            "user_imported", "Juan", AT.astimezone(timezone(timedelta(hours=-6))), None, {}
        ),
    ]
    keys = {login: login_key(login) for login in logins}
    assert [_rows.event_row(event) for event in events] == _batch_event_rows(events, keys)
