"""Shared fixtures: a service over the in-memory adapters with a cheap hasher."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import settings

import pwrecovery as pr
from tests.helpers import (
    SMTP_PASSWORD,
    SUPERVISOR_PASSWORD,
    USER_PASSWORD,
    cheap_hasher,
    sender_settings,
    verify_address,
)

pytest_plugins = ["pwrecovery.testing.plugin"]

# No per-example deadline: a loaded CI machine must not turn a slow example into a failure.
settings.register_profile("pwrecovery", deadline=None)
settings.load_profile("pwrecovery")

ServiceFactory = Callable[..., pr.RecoveryService]


@pytest.fixture
def clock() -> pr.ManualClock:
    return pr.ManualClock()


@pytest.fixture
def mailer() -> pr.RecordingMailer:
    return pr.RecordingMailer(passwords={"envios@empresa.mx": SMTP_PASSWORD})


@pytest.fixture
def store() -> pr.InMemoryStore:
    return pr.InMemoryStore()


@pytest.fixture
def secret_key() -> str:
    return pr.generate_key()


@pytest.fixture
def make_service(
    store: pr.Store, mailer: pr.Mailer, clock: pr.ManualClock, secret_key: str
) -> ServiceFactory:
    """Build a service on the shared store, mailer and clock; keywords override."""

    def make(**overrides: object) -> pr.RecoveryService:
        options: dict[str, object] = {
            "store": store,
            "mailer": mailer,
            "secret_key": secret_key,
            "hasher": cheap_hasher(),
            "clock": clock,
        }
        options.update(overrides)
        return pr.RecoveryService(**options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def service(make_service: ServiceFactory) -> pr.RecoveryService:
    """A supervisor and a user; no sender and no recovery address yet."""
    svc = make_service()
    svc.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True, display_name="Supervisor")
    svc.add_user("juan", USER_PASSWORD, display_name="Juan Pérez")
    return svc


@pytest.fixture
def ready(service: pr.RecoveryService, mailer: pr.RecordingMailer) -> pr.RecoveryService:
    """The vendor's prerequisites met: a checked sender, both addresses verified."""
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    verify_address(service, mailer, "SUPERVISOR", "supervisor@empresa.mx")
    verify_address(service, mailer, "juan", "juan@empresa.mx")
    mailer.outbox.clear()
    return service
