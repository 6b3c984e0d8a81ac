"""Signed links to a step's logs: `logFiles` that a client reads without its token.

Azure ML answered a run's `logFiles` with blob SAS URLs, and SDK v1 reads them so, with no
token (`Run.get_details_with_logs()`, `get_all_logs()`, and the log streaming of
`wait_for_completion()`, which by default reads the running step's driver log every second).
Sent a 401, it retries for about 4.6 minutes before it gives up, and the streaming swallows
that and starts again. So the links that a run's details give are signed: `se` (when the link
expires, Unix seconds, an hour on), `kid` (the key's month) and `sig`, an HMAC-SHA256 over the
workspace, the run, the step, the log and `se`. A GET of the log route that carries no
`Authorization` header is answered when its signature holds, for that one log and until
then (`pipelines.api.http`); with a token, the token decides, as before.

The keys are 32 random bytes a month, made by the first instance that needs the month's
(insert-if-absent, so every instance signs with the same one) and kept in `RunCallbacks`, the
table that only the app reads (no compute target's identity has a role on it): a step's
code cannot make links. A link verifies with its month's key or the month before's; older
keys open nothing. Where the keys cannot be had (storage away), details give the plain
links, which need the token, and say so in the log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlencode

from pipelines.errors import AlreadyExistsError, PipelinesError
from pipelines.runs.devops import TABLE as APP_ONLY_TABLE
from pipelines.store import StorageAccount, Table

log = logging.getLogger("pipelines.runs")

LIFETIME_SECONDS = 3600
PARTITION = "link-keys"
# The query parameters of a signed link.
SIGNED = ("se", "kid", "sig")

_keys: dict[tuple[str, str], bytes] = {}  # (table, month) -> key, for this process
# (table, month) -> time.monotonic() until which a month found without a key is not read again:
# a link that names one costs no storage call each time it is sent.
_missing: dict[tuple[str, str], float] = {}
MISSING_SECONDS = 60.0
_keys_lock = threading.Lock()
# How far ahead of now a link's expiry may be: what `sign` gives, and some room for clocks.
SKEW_SECONDS = 300


def _month(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y%m")


def _previous(month: str) -> str:
    year, number = int(month[:4]), int(month[4:])
    return f"{year - 1}12" if number == 1 else f"{year}{number - 1:02d}"


class LogLinks:
    def __init__(self, account: StorageAccount) -> None:
        self.table = Table(account.table(APP_ONLY_TABLE))

    def _key(self, month: str, *, make: bool) -> bytes | None:
        cached = (self.table.name, month)
        with _keys_lock:
            if cached in _keys:
                return _keys[cached]
            if not make and _missing.get(cached, 0.0) > time.monotonic():
                return None
        row = self.table.get(PARTITION, month)
        if row is None and make:
            fresh = base64.b64encode(secrets.token_bytes(32)).decode()
            made = {"PartitionKey": PARTITION, "RowKey": month, "Key": fresh}
            try:
                self.table.insert(made)
                row = made
            except AlreadyExistsError:  # another instance made it first: theirs is the month's
                row = self.table.get(PARTITION, month)
        if row is None:
            with _keys_lock:
                _missing[cached] = time.monotonic() + MISSING_SECONDS
            return None
        key = base64.b64decode(str(row["Key"]))
        with _keys_lock:
            _keys[cached] = key
            _missing.pop(cached, None)
        return key

    def sign(self, url: str, workspace: str, run_id: str, node_id: str, kind: str, now: float | None = None) -> str:
        """`url` (the log route's, `?nodeId=` included) with the signature's parameters; `url`
        itself when no key can be had (the link then needs the token, as before)."""
        moment = time.time() if now is None else now
        expires, month = int(moment) + LIFETIME_SECONDS, _month(moment)
        try:
            key = self._key(month, make=True)
        except PipelinesError:  # storage away, or refusing: the links need the token, as before
            log.warning("log links are given unsigned (they need the token): the month's key could not be had",
                        exc_info=True)
            return url
        if key is None:  # made by another instance and gone again at once: nothing to sign with
            return url
        signature = _signature(key, workspace, run_id, node_id, kind, expires)
        return f"{url}&{urlencode({'se': expires, 'kid': month, 'sig': signature})}"

    def verify(self, query: Mapping[str, str], workspace: str, run_id: str, node_id: str, kind: str,
               now: float | None = None) -> str | None:
        """None when the link's signature holds for this log and has not expired; else why not."""
        moment = time.time() if now is None else now
        expires, month, given = (query.get(name) or "" for name in SIGNED)
        # ASCII digits only (str.isdigit takes '²' and other scripts' digits, which int() refuses or reads)
        if not (expires.isascii() and expires.isdigit() and len(expires) <= 12 and given.isascii() and given):
            return "the link is not signed"
        if int(expires) < moment:
            return "the link has expired: read the run's details again for a new one"
        if int(expires) > moment + LIFETIME_SECONDS + SKEW_SECONDS:
            return "the link's expiry is not one this service gives"
        if month not in (_month(moment), _previous(_month(moment))):
            return "the link's key is not in use"
        key = self._key(month, make=False)
        if key is None or not hmac.compare_digest(
                _signature(key, workspace, run_id, node_id, kind, int(expires)).encode(), given.encode()):
            return "the link's signature does not hold"
        return None


def _signature(key: bytes, workspace: str, run_id: str, node_id: str, kind: str, expires: int) -> str:
    message = "\n".join(("v1", workspace, run_id, node_id, kind.lower(), str(expires))).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
