"""The mails as a clerk sees them: parsed by a real mail parser, and the HTML part
rendered by a real browser (headless Chromium).

docs/images/ holds screenshots made the same way
(``PYTHONPATH=. python tests/integration/test_mail_rendering.py docs/images``).
"""

from __future__ import annotations

import email
import email.policy
import html
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import pwrecovery as pr
from pwrecovery._domain.mail import MailContent, MailStyle, compose
from pwrecovery._secret import Secret
from tests.helpers import sender_settings, text_of

NOW = datetime(2026, 12, 4, 6, 11, tzinfo=UTC)
SECRETS = {
    pr.Purpose.TEMPORARY_PASSWORD: "Kx7P-mQ2z-H9aB",
    pr.Purpose.EMAIL_VERIFICATION: "48215937",
    pr.Purpose.PASSWORD_CHANGED: None,
    pr.Purpose.ADDRESS_CHANGED: None,
}
STYLE = MailStyle(zone=ZoneInfo("America/Mexico_City"), product="Contabilidad Plus")


def _mail(purpose: pr.Purpose, locale: str) -> EmailMessage:
    secret = SECRETS[purpose]
    content = MailContent(
        purpose=purpose,
        to_address="juan@empresa.mx",
        to_name="Juan Pérez",
        login="juan",
        expires_at=NOW + timedelta(days=7) if secret else None,
        locale=locale,
        new_address="j***@nuevo.mx" if purpose is pr.Purpose.ADDRESS_CHANGED else "",
    )
    return compose(
        content,
        sender_settings(),
        now=NOW,
        message_token="k3Jd9sQ2xPz",
        secret=Secret(secret) if secret else None,
        style=STYLE,
    )


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browser(*args: str) -> subprocess.CompletedProcess[str]:
    binary = _chromium()
    assert binary is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    return subprocess.run(  # noqa: S603 (our own browser and arguments)
        [binary, *flags, *args], capture_output=True, text=True, timeout=60, check=True
    )


@pytest.fixture(scope="module")
def browser() -> None:
    if _chromium() is None:
        reason = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("PWRECOVERY_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)


purposes = pytest.mark.parametrize("purpose", list(pr.Purpose), ids=str)
locales = pytest.mark.parametrize("locale", ["es_MX", "en"])


@purposes
@locales
def test_a_real_parser_reads_the_mail_as_sent(purpose: pr.Purpose, locale: str) -> None:
    """The bytes on the wire parse back (policy.default) into the same subject, one
    recipient, a text and an HTML part in UTF-8, and the secret alone on its line."""
    message = _mail(purpose, locale)
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert message["Subject"] == parsed["Subject"]
    assert ["juan@empresa.mx"] == [a.addr_spec for a in parsed["To"].addresses]
    parts = [(p.get_content_type(), p.get_content_charset()) for p in parsed.iter_parts()]
    assert [("text/plain", "utf-8"), ("text/html", "utf-8")] == parts
    secret = SECRETS[purpose]
    lines = text_of(parsed).splitlines()
    assert ([secret] if secret else []) == [line for line in lines if line == secret]


CASES = [(purpose, locale) for purpose in pr.Purpose for locale in ("es_MX", "en")]


def _html(purpose: pr.Purpose, locale: str) -> str:
    body = _mail(purpose, locale).get_body(("html",))
    assert body is not None
    return str(body.get_content())


@pytest.fixture(scope="module")
def rendered(browser: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every mail's HTML part, rendered by one run of the browser (each in its own frame),
    as the DOM the browser built, by case."""
    folder = tmp_path_factory.mktemp("mails")
    frames = []
    for purpose, locale in CASES:
        page = folder / f"{purpose.value}-{locale}.html"
        page.write_text(_html(purpose, locale), encoding="utf-8")
        frames.append(f'<iframe id="{purpose.value}-{locale}" src="{page.name}"></iframe>')
    index = folder / "index.html"
    index.write_text("<!DOCTYPE html><html><body>" + "".join(frames) + "</body></html>", "utf-8")
    script = (
        "<script>window.onload=()=>{for(const f of document.querySelectorAll('iframe'))"
        "{const d=document.createElement('pre');d.id='dom-'+f.id;"
        "d.textContent=f.contentDocument.documentElement.outerHTML;document.body.append(d)}};"
        "</script>"
    )
    index.write_text(index.read_text("utf-8").replace("<body>", "<body>" + script), "utf-8")
    dom = _browser("--allow-file-access-from-files", "--dump-dom", index.as_uri()).stdout
    found = {}
    for purpose, locale in CASES:
        case = f"{purpose.value}-{locale}"
        match = re.search(rf'<pre id="dom-{case}">(.*?)</pre>', dom, re.DOTALL)
        assert match is not None, case
        found[case] = html.unescape(match.group(1))
    return found


@pytest.mark.parametrize(("purpose", "locale"), CASES, ids=str)
def test_the_html_part_renders_in_a_browser(
    rendered: dict[str, str], purpose: pr.Purpose, locale: str
) -> None:
    """Headless Chromium renders the HTML part: the text a clerk reads is every paragraph of
    the text part, the secret in its own paragraph, the company's time and the product."""
    dom = rendered[f"{purpose.value}-{locale}"]
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom))).strip()
    message = _mail(purpose, locale)
    for paragraph in text_of(message).split("\n\n"):
        assert re.sub(r"\s+", " ", paragraph).strip() in text
    assert "Contabilidad Plus" in text
    secret = SECRETS[purpose]
    if secret:
        assert f"<strong>{secret}</strong>" in dom


def test_a_screenshot_shows_the_mail(browser: None, tmp_path: Path) -> None:
    """The browser paints the temporary-password mail: a real image with text on it."""
    page = tmp_path / "mail.html"
    page.write_text(_html(pr.Purpose.TEMPORARY_PASSWORD, "es_MX"), encoding="utf-8")
    screenshot = tmp_path / "mail.png"
    _browser("--window-size=720,640", f"--screenshot={screenshot}", page.as_uri())
    assert b"\x89PNG\r\n\x1a\n" == screenshot.read_bytes()[:8]
    assert screenshot.stat().st_size > 5_000  # a page with text, not a blank image


def main(folder: str) -> None:
    """Write the screenshots of docs/images/ (the temporary-password mail in both locales)."""
    out = Path(folder).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for locale in ("es_MX", "en"):
        body = _mail(pr.Purpose.TEMPORARY_PASSWORD, locale).get_body(("html",))
        assert body is not None
        page = out / f"mail-{locale}.html"
        page.write_text(str(body.get_content()), encoding="utf-8")
        target = out / f"mail-temporary-password-{locale}.png"
        _browser("--window-size=720,560", f"--screenshot={target.resolve()}", page.as_uri())
        page.unlink()
        print(target)  # noqa: T201 (a script's output)


if __name__ == "__main__":
    main(sys.argv[1])
