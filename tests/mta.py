"""A private Postfix + Dovecot mail server on loopback, started by the tests from Debian's
packages (``postfix``, ``dovecot-core``).

Everything lives under one folder: Postfix's own configuration directory (``-c DIR``),
queue and data directories, Dovecot's configuration, ``base_dir`` and ``state_dir``, the
Maildirs, the certificates and the logs. Nothing in /etc/postfix or /etc/dovecot is read
for configuration or changed, no system service is started or used, and nothing listens
anywhere but on 127.0.0.1, on free ports:

- ``starttls_port``: a submission listener (like 587): STARTTLS required before AUTH
  and before any mail;
- ``ssl_port``: implicit TLS from the first byte (like 465);
- ``no_smtputf8_port``: the submission listener again with ``smtputf8_enable=no``, for
  fault tests.

AUTH (PLAIN and LOGIN) is checked by Dovecot against a passwd-file with the given
accounts; a login may use only its own address in MAIL FROM
(``smtpd_sender_login_maps`` + ``reject_sender_login_mismatch``, applied at MAIL FROM).
Mail for the mailboxes' domains is delivered by Postfix's ``virtual`` agent into one
Maildir per address (owned by ``nobody``); an unknown address at those domains is
refused at RCPT TO, and nothing is relayed anywhere else (no DNS either).

Postfix's ``master`` must start as root (its daemons then run as the ``postfix`` user),
so this needs root. The queue directories are made here with the owners and modes
Postfix insists on (``postfix`` user, ``postdrop`` group), inside the folder, and
``master -w`` is started directly: ``postfix start`` would spend ~2 s on checks.
Dovecot runs in the foreground as a child of the tests. Stopping sends SIGTERM to each
master, waits, and SIGKILLs whatever is left of their process groups; then the folder
is removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from email import policy
from email.message import EmailMessage
from email.parser import Parser
from pathlib import Path
from typing import Final, Literal

import attrs

import pwrecovery as pr
from pwrecovery.testing.smtp import HOST, Certificates, free_port, make_certificates

PortKind = Literal["starttls", "ssl", "no_smtputf8"]

POSTFIX: Final = Path("/usr/sbin/postfix")
MASTER: Final = Path("/usr/lib/postfix/sbin/master")
DOVECOT: Final = Path("/usr/sbin/dovecot")
MAILBOX_UID: Final = 65534  # nobody: the virtual agent writes the Maildirs as this user
_START_TIMEOUT: Final = 15.0

# The test suite's instance: its SMTP accounts (login = address) and the other mailboxes.
MTA_ACCOUNTS: Final = {
    "envios@empresa.mx": "smtp-app-password",
    "respaldo@empresa.mx": "clave-respaldo-ñ",
}
MTA_MAILBOXES: Final = (
    "supervisor@empresa.mx",
    "juan@empresa.mx",
    "josé@empresa.mx",  # a UTF-8 local part: needs SMTPUTF8
    "ana@compañía.mx",  # an IDN domain: delivered under its A-label xn--compaa-7va5a.mx
)


def mta_missing() -> str | None:
    """Why a private MTA cannot run here, or None when it can."""
    for binary, package in ((POSTFIX, "postfix"), (MASTER, "postfix"), (DOVECOT, "dovecot-core")):
        if not binary.is_file():
            return f"{binary} is not installed (apt-get install {package})"
    if os.geteuid() != 0:
        return "Postfix's master must be started as root"
    return None


class MtaError(RuntimeError):
    """The private MTA did not start; the message carries its logs."""


def _parse_delivered(raw: bytes) -> EmailMessage:
    # BytesParser would keep a UTF-8 header (SMTPUTF8 mail) as surrogate escapes, which
    # then leak into parsed addresses. Decode the header section as UTF-8 and leave the
    # body as BytesParser does (ASCII with surrogate escapes), so that each part is still
    # decoded with its own charset.
    head, separator, body = raw.partition(b"\n\n")
    text = head.decode("utf-8", "surrogateescape") + separator.decode("ascii")
    text += body.decode("ascii", "surrogateescape")
    message = Parser(_class=EmailMessage, policy=policy.default).parsestr(text)
    assert isinstance(message, EmailMessage)
    return message


def _delivery_order(path: Path) -> tuple[int, int, str]:
    # Postfix names Maildir files "<seconds>.V<dev>I<inode>M<microseconds>.<host>".
    seconds, _, rest = path.name.partition(".")
    micro = re.search(r"M(\d+)", rest)
    return (int(seconds) if seconds.isdigit() else 0, int(micro[1]) if micro else 0, path.name)


@attrs.define(eq=False)
class Mta:
    """A running private Postfix + Dovecot; read mail with ``wait_for``/``next_message``."""

    folder: Path
    ca: Certificates
    starttls_port: int
    ssl_port: int
    no_smtputf8_port: int
    accounts: dict[str, str]
    maildirs: dict[str, Path]
    host: str = HOST
    master_pid: int | None = None  # Postfix's master: leader of its daemons' process group
    dovecot_pid: int | None = None  # Dovecot's master: leader of its own process group

    @property
    def auth_socket(self) -> Path:
        """Dovecot's SASL socket, which Postfix's smtpd asks."""
        return self.folder / "dovecot" / "run" / "auth-client"

    def port(self, kind: PortKind = "starttls") -> int:
        return {
            "starttls": self.starttls_port,
            "ssl": self.ssl_port,
            "no_smtputf8": self.no_smtputf8_port,
        }[kind]

    def settings(
        self,
        username: str,
        *,
        port_kind: PortKind = "starttls",
        from_address: str | None = None,
        display_name: str = "Contabilidad",
    ) -> pr.SenderSettings:
        """Sender settings for ``username`` on one of the listeners."""
        security = pr.Security.SSL if port_kind == "ssl" else pr.Security.STARTTLS
        return pr.SenderSettings(
            host=self.host,
            port=self.port(port_kind),
            security=security,
            username=username,
            from_address=from_address or username,
            display_name=display_name,
        )

    def _maildir(self, address: str) -> Path:
        try:
            return self.maildirs[address.lower()]
        except KeyError:
            msg = f"{address} has no mailbox on this MTA (give it in mailboxes=)"
            raise KeyError(msg) from None

    def _files(self, address: str, *subfolders: str) -> list[Path]:
        maildir = self._maildir(address)
        found = [path for sub in subfolders for path in (maildir / sub).iterdir()]
        return sorted(found, key=_delivery_order)

    def raw_messages(self, address: str) -> list[bytes]:
        """Every message delivered to ``address`` so far, as stored, oldest first."""
        return [path.read_bytes() for path in self._files(address, "cur", "new")]

    def messages(self, address: str) -> list[EmailMessage]:
        """Every message delivered to ``address`` so far, parsed, oldest first."""
        return [_parse_delivered(raw) for raw in self.raw_messages(address)]

    def wait_for(
        self, address: str, count: int = 1, *, timeout: float = 10.0
    ) -> list[EmailMessage]:
        """Wait until at least ``count`` messages were delivered to ``address``; return
        all of them, oldest first."""
        deadline = time.monotonic() + timeout
        while len(self._files(address, "cur", "new")) < count:
            if time.monotonic() > deadline:
                msg = f"{count} message(s) for {address} not delivered in {timeout} s"
                raise TimeoutError(msg + "\n" + self.log_tail())
            time.sleep(0.02)
        return self.messages(address)

    def next_message(self, address: str, *, timeout: float = 10.0) -> EmailMessage:
        """The oldest message for ``address`` not taken yet, waiting for it; taking it
        moves it from the Maildir's new/ to cur/ (as a mail reader would)."""
        deadline = time.monotonic() + timeout
        while not (waiting := self._files(address, "new")):
            if time.monotonic() > deadline:
                msg = f"no new message for {address} in {timeout} s"
                raise TimeoutError(msg + "\n" + self.log_tail())
            time.sleep(0.02)
        oldest = waiting[0]
        taken = oldest.parent.parent / "cur" / f"{oldest.name}:2,S"
        oldest.rename(taken)
        return _parse_delivered(taken.read_bytes())

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until Postfix's queue holds no message (everything delivered or bounced)."""
        queue = self.folder / "postfix" / "queue"
        deadline = time.monotonic() + timeout
        while any(
            files
            for name in ("incoming", "active", "deferred")
            for _, _, files in os.walk(queue / name)
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("Postfix's queue is not empty\n" + self.log_tail())
            time.sleep(0.02)

    def reset(self) -> None:
        """Let the queue drain, then empty every mailbox."""
        self.wait_idle()
        for maildir in self.maildirs.values():
            for sub in ("new", "cur", "tmp"):
                for path in (maildir / sub).iterdir():
                    path.unlink()

    def log_tail(self, lines: int = 40) -> str:
        """The end of Postfix's and Dovecot's logs, for failure messages."""
        parts = []
        logs = ("postfix.log", "dovecot/dovecot.log", "dovecot/stderr")
        for log in (self.folder / name for name in logs):
            if log.exists():
                tail = log.read_text("utf-8", "replace").splitlines()[-lines:]
                parts.append(f"--- {log.name} ---\n" + "\n".join(tail))
        return "\n".join(parts)


def _domain_forms(domain: str) -> list[str]:
    """A domain as written and in IDNA form (the envelope carries the A-label)."""
    forms = [domain.lower()]
    if not domain.isascii():
        forms.append(domain.encode("idna").decode("ascii").lower())
    return forms


def _folder_name(index: int, local: str) -> str:
    safe = re.sub(r"[^a-z0-9._-]", "_", local.lower())
    return f"{index:02d}-{safe}"


_MAIN_CF: Final = """\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {folder}/postfix.log
maillog_file_prefixes = {folder}
myhostname = mta.pwrecovery.test
mydomain = pwrecovery.test
myorigin = $myhostname
mydestination =
mynetworks =
inet_interfaces = {host}
inet_protocols = ipv4
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
smtputf8_enable = yes
# No DNS and no relaying: every address outside the mailboxes is an error.
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
relayhost =
relay_domains =
local_transport = error:5.1.1 no local delivery here
default_transport = error:5.7.1 nothing is relayed from here
relay_transport = error:5.7.1 nothing is relayed from here
virtual_mailbox_domains = {domains}
virtual_mailbox_base = {mail}
virtual_mailbox_maps = texthash:{conf}/mailboxes
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{uid}
virtual_minimum_uid = 100
smtpd_banner = $myhostname ESMTP
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_tls_received_header = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {auth_socket}
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_sender_login_maps = texthash:{conf}/senders
# Refuse at MAIL FROM itself, not later at RCPT TO.
smtpd_delay_reject = no
smtpd_sender_restrictions = reject_sender_login_mismatch
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_error_sleep_time = 0
delay_warning_time = 0
"""

_MASTER_CF: Final = """\
{host}:{starttls} inet n - n - - smtpd
{host}:{ssl} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
{host}:{no_smtputf8} inet n - n - - smtpd -o smtputf8_enable=no
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""

_DOVECOT_CONF: Final = """\
base_dir = {run}
state_dir = {state}
instance_name = {instance}
log_path = {folder}/dovecot.log
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_username_format = %u
passdb {{
  driver = passwd-file
  args = username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home=/nonexistent
}}
service auth {{
  unix_listener auth-client {{
    user = postfix
    group = postfix
    mode = 0600
  }}
}}
# No authentication penalty: after a failed login Dovecot would delay the next answer
# to the same IP (127.0.0.1 here) by up to 15 s. Without this socket it is off.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def _write_dovecot(folder: Path, accounts: dict[str, str]) -> Path:
    folder.mkdir()
    lines = []
    for login, password in accounts.items():
        if ":" in login or "\n" in login:
            msg = f"a Dovecot passwd-file login cannot hold ':' or a newline: {login!r}"
            raise ValueError(msg)
        lines.append(f"{login}:{{PLAIN.HEX}}{password.encode('utf-8').hex()}::::::\n")
    passwd = folder / "passwd"
    passwd.write_text("".join(lines), "utf-8")
    passwd.chmod(0o640)
    shutil.chown(passwd, group="dovecot")
    conf = folder / "dovecot.conf"
    conf.write_text(
        _DOVECOT_CONF.format(
            run=folder / "run",
            state=folder / "state",
            instance=f"pwrecovery-{folder.parent.name}",
            folder=folder,
            uid=MAILBOX_UID,
        ),
        "utf-8",
    )
    (folder / "state").mkdir()
    return conf


def _make_maildirs(mail: Path, addresses: Iterable[str]) -> dict[str, Path]:
    """One Maildir per address, owned by the delivery user, under its domain's folder."""
    maildirs: dict[str, Path] = {}
    for index, address in enumerate(dict.fromkeys(a.lower() for a in addresses)):
        local, _, domain = address.rpartition("@")
        domain_folder = mail / _domain_forms(domain)[-1]
        maildir = domain_folder / _folder_name(index, local)
        for path in (domain_folder, maildir, *(maildir / sub for sub in ("tmp", "new", "cur"))):
            path.mkdir(exist_ok=True)
            os.chown(path, MAILBOX_UID, MAILBOX_UID)
        maildirs[address] = maildir
    return maildirs


def _wait_for_socket(path: Path, deadline: float, what: str) -> None:
    while True:
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(path))
            except OSError:
                pass
            else:
                return
        if time.monotonic() > deadline:
            raise MtaError(f"{what} did not come up")
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    # Not os.kill(pid, 0): that also succeeds on a zombie nobody has reaped yet.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def _kill_group(pid: int, *, grace: float = 3.0) -> None:
    """SIGTERM ``pid`` (a process group leader), wait, then SIGKILL what is left of its
    process group."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _make_queue(postfix: Path) -> None:
    """Postfix's queue and data directories with the owners and modes it insists on
    (as its postfix-files lists them), so that master can start without the slow
    integrity checks of ``postfix start``."""
    owner, group = "postfix", "postdrop"
    queue = postfix / "queue"
    queue.mkdir(mode=0o755)
    (queue / "pid").mkdir(mode=0o755)
    for name in ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold"):
        _owned_dir(queue / name, 0o700, owner)
    for name in ("incoming", "private", "saved", "trace"):
        _owned_dir(queue / name, 0o700, owner)
    _owned_dir(queue / "maildrop", 0o730, owner, group)
    _owned_dir(queue / "public", 0o710, owner, group)
    _owned_dir(postfix / "data", 0o700, owner)


def _owned_dir(path: Path, mode: int, owner: str, group: str | None = None) -> None:
    path.mkdir()
    shutil.chown(path, owner, group or owner)
    path.chmod(mode)


def _check_searchable(folder: Path) -> None:
    # Postfix's daemons (user postfix) and the delivery user must reach into the folder.
    for parent in [folder, *folder.parents]:
        if not parent.stat().st_mode & 0o001:
            msg = f"{parent} is not searchable by other users: put the MTA's folder elsewhere"
            raise MtaError(msg)


def _prepare(folder: Path, accounts: dict[str, str], mailboxes: Iterable[str]) -> Mta:
    """Certificates, Maildirs and ports: everything but the running servers."""
    tls = folder / "tls"
    tls.mkdir()
    ca = make_certificates(tls)
    ca.key_file.chmod(0o600)
    mail = folder / "mail"
    mail.mkdir()
    return Mta(
        folder=folder,
        ca=ca,
        starttls_port=free_port(),
        ssl_port=free_port(),
        no_smtputf8_port=free_port(),
        accounts=dict(accounts),
        maildirs=_make_maildirs(mail, [*accounts, *mailboxes]),
    )


def _start_dovecot(mta: Mta, stack: contextlib.ExitStack, deadline: float) -> int:
    """Dovecot in the foreground as our child, in its own process group; stopped by
    ``stack``. Returns its pid once its auth socket answers."""
    folder = mta.folder / "dovecot"
    conf = _write_dovecot(folder, mta.accounts)
    with (folder / "stderr").open("wb") as stderr:
        dovecot = subprocess.Popen(  # noqa: S603 (our own arguments)
            [str(DOVECOT), "-F", "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    stack.callback(_stop_dovecot, dovecot)
    _wait_for_socket(mta.auth_socket, deadline, "Dovecot's auth socket")
    return dovecot.pid


def _stop_dovecot(dovecot: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        dovecot.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        dovecot.wait(timeout=3.0)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(dovecot.pid, signal.SIGKILL)
    dovecot.wait()


def _write_postfix(mta: Mta) -> Path:
    """Postfix's own configuration directory: main.cf, master.cf and two tables."""
    conf = mta.folder / "postfix" / "conf"
    conf.mkdir(parents=True)
    mail = mta.folder / "mail"
    mailboxes, domains = [], set()
    for address, maildir in mta.maildirs.items():
        local, _, domain = address.rpartition("@")
        for form in _domain_forms(domain):
            # A trailing slash makes the virtual agent deliver in Maildir format.
            mailboxes.append(f"{local}@{form} {maildir.relative_to(mail)}/\n")
            domains.add(form)
    (conf / "mailboxes").write_text("".join(mailboxes), "utf-8")
    owners = [f"{login.lower()} {login}\n" for login in mta.accounts]
    (conf / "senders").write_text("".join(owners), "utf-8")
    main = _MAIN_CF.format(
        queue=mta.folder / "postfix" / "queue",
        data=mta.folder / "postfix" / "data",
        folder=mta.folder,
        host=mta.host,
        domains=", ".join(sorted(domains)),
        mail=mail,
        conf=conf,
        uid=MAILBOX_UID,
        cert=mta.ca.cert_file,
        key=mta.ca.key_file,
        auth_socket=mta.auth_socket,
    )
    (conf / "main.cf").write_text(main, "utf-8")
    master = _MASTER_CF.format(
        host=mta.host,
        starttls=mta.starttls_port,
        ssl=mta.ssl_port,
        no_smtputf8=mta.no_smtputf8_port,
    )
    (conf / "master.cf").write_text(master, "utf-8")
    # master rereads main.cf until it is a few seconds old (a guard against reading a
    # half-edited file), which would cost ~2 s here: date the files back instead.
    past = time.time() - 60
    for written in conf.iterdir():
        os.utime(written, (past, past))
    return conf


def _start_postfix(mta: Mta, stack: contextlib.ExitStack) -> int:
    """Postfix's master on our configuration directory; stopped by ``stack``. Returns
    the master's pid (the leader of the process group of all Postfix daemons)."""
    conf = _write_postfix(mta)
    _make_queue(mta.folder / "postfix")
    # Not `postfix start`: its integrity checks cost ~2 s, and the queue is made above.
    # `master -w` exits 0 only once the real master (detached, a process group leader)
    # has initialised, its listeners bound.
    started = subprocess.run(  # noqa: S603 (our own arguments)
        [str(MASTER), "-c", str(conf), "-w"],
        check=False,
        capture_output=True,
        timeout=_START_TIMEOUT,
    )
    pid_file = mta.folder / "postfix" / "queue" / "pid" / "master.pid"
    master_pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
    if master_pid is not None:
        stack.callback(_kill_group, master_pid)
    if started.returncode != 0 or master_pid is None:
        output = (started.stdout + started.stderr).decode("utf-8", "replace")
        msg = f"Postfix's master did not start:\n{output}\n{mta.log_tail()}"
        raise MtaError(msg)
    return master_pid


@contextlib.contextmanager
def running_mta(
    folder: Path, accounts: dict[str, str], *, mailboxes: Iterable[str] = ()
) -> Iterator[Mta]:
    """Start a private Postfix + Dovecot under ``folder`` (created if needed, removed at
    the end with everything in it); ``accounts`` maps each SMTP login (an address) to
    its password. Each login's address and each of ``mailboxes`` gets a Maildir."""
    missing = mta_missing()
    if missing is not None:
        raise MtaError(missing)
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        # Callbacks run last-in first-out: Postfix stops, then Dovecot, then the folder goes.
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        folder.chmod(0o755)
        _check_searchable(folder)
        deadline = time.monotonic() + _START_TIMEOUT
        mta = _prepare(folder, accounts, mailboxes)
        try:
            mta.dovecot_pid = _start_dovecot(mta, stack, deadline)
        except MtaError as error:
            raise MtaError(f"{error}\n{mta.log_tail()}") from error
        mta.master_pid = _start_postfix(mta, stack)
        yield mta
