"""The delivery worker of a keyless deployment, as its own process (``pwrecovery
deliver`` under a scheduler): a service with the key on the same store, sending
through a real SMTP server. Top-level, so that the spawn start method imports it."""

from __future__ import annotations

import json
import ssl
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pwrecovery as pr
from tests.helpers import cheap_hasher
from tests.integration.workers import open_store


def deliver(
    location: Path | str, key: str, ca_file: Path, barrier: Barrier, results: Queue[str]
) -> None:
    """Run ``deliver_pending`` until nothing is due; report the summed counts as JSON."""
    context = ssl.create_default_context(cafile=str(ca_file))
    service = pr.RecoveryService(
        store=open_store(location),
        mailer=pr.SmtpMailer(timeout=10.0, ssl_context=context),
        secret_key=key,
        hasher=cheap_hasher(),
    )
    barrier.wait()
    counts = {"sent": 0, "retried": 0, "abandoned": 0, "dropped": 0}
    try:
        while (report := service.deliver_pending(limit=10)) != pr.DeliveryReport():
            for name in counts:
                counts[name] += getattr(report, name)
    except pr.PwRecoveryError as error:
        results.put(json.dumps({"error": error.code}))
    else:
        results.put(json.dumps(counts))
