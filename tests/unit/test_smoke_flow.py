"""The recovery story (docs/design.md §1) through the service, in memory."""

from __future__ import annotations

import pwrecovery as pr
from tests.helpers import temporary_password_in


def test_recovery_flow_end_to_end(ready: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """Recuperar clave → temporary password by mail → forced change → new password works."""
    sent = ready.request_recovery("juan")
    assert sent.masked_address == "j***@empresa.mx"
    temporary = temporary_password_in(mailer.outbox[-1])
    assert ready.authenticate("juan", temporary).status is pr.LoginStatus.MUST_CHANGE_PASSWORD
    ready.change_password("juan", temporary, "Tortuga verde 2026", "Tortuga verde 2026")
    assert ready.authenticate("juan", "Tortuga verde 2026").status is pr.LoginStatus.OK
