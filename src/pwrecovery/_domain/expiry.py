"""When things expire. A secret valid for ``ttl`` from ``issued_at`` works at
every instant strictly before ``issued_at + ttl`` and at none from then on."""

from __future__ import annotations

from datetime import datetime, timedelta


def expiry(issued_at: datetime, ttl: timedelta) -> datetime:
    return issued_at + ttl


def is_expired(expires_at: datetime, now: datetime) -> bool:
    return now >= expires_at
