"""Webhooks of a pipeline endpoint: HTTPS URLs that receive the events of its runs.

An endpoint names at most `MAX_WEBHOOKS`, each a URL and the name of the app setting that
holds its signing secret (`SecretSetting`). The secret itself is never stored here, nor
shown: in Azure the setting is a Key Vault reference (`@Microsoft.KeyVault(...)`) that the
platform resolves. A setting's name starts with `SECRET_PREFIX`, so an endpoint can never
name one of the app's other settings (its storage connection, say) as a signing key.

The rules are regular expressions, so the OpenAPI document states them exactly:
`https://host[:port][/path]`; plain `http://` only to 127.0.0.1 or localhost, and only
where the development setting `PIPELINES_WEBHOOKS_ALLOW_LOCAL_HTTP` allows it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pipelines.errors import BadRequestError

MAX_WEBHOOKS = 5
MAX_URL = 2048
SECRET_PREFIX = "PIPELINES_WEBHOOK_SECRET_"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
_REST = r"(?::[0-9]{1,5})?(?:/[!-~]*)?"
HTTPS_URL = re.compile(rf"^https://{_HOST}{_REST}\Z")
LOCAL_HTTP_URL = re.compile(rf"^http://(?:127\.0\.0\.1|localhost){_REST}\Z")
SECRET_SETTING = re.compile(rf"^{SECRET_PREFIX}[A-Z0-9_]{{1,64}}\Z")
URL_RULE = (
    f"Url must be an https:// URL (host, optional port and path; {MAX_URL} characters at most)"
)
LOCAL_RULE = "; plain http:// only to 127.0.0.1 or localhost, as PIPELINES_WEBHOOKS_ALLOW_LOCAL_HTTP allows here"
SECRET_RULE = (
    f"SecretSetting must name the app setting that holds the signing secret: {SECRET_PREFIX} and then"
    " 1 to 64 capital letters, digits or underscores"
)
COUNT_RULE = f"Webhooks must be a list of at most {MAX_WEBHOOKS} objects {{Url, SecretSetting}}"


@dataclass(frozen=True)
class Webhook:
    url: str
    secret_setting: str

    def to_json(self) -> list[str]:
        return [self.url, self.secret_setting]

    @classmethod
    def from_json(cls, value: object) -> Webhook | None:
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
            return cls(value[0], value[1])
        return None


def webhooks_text(hooks: Iterable[Webhook]) -> str | None:
    """How a row keeps webhooks (an endpoint's, a run's): JSON pairs; None for none."""
    pairs = [hook.to_json() for hook in hooks]
    return json.dumps(pairs, separators=(",", ":")) if pairs else None


def parse_webhooks(text: object) -> tuple[Webhook, ...]:
    try:
        values = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return ()
    return tuple(hook for value in values if (hook := Webhook.from_json(value)) is not None)


def url_allowed(url: str, *, allow_local_http: bool) -> bool:
    if len(url) > MAX_URL:
        return False
    return bool(HTTPS_URL.match(url) or (allow_local_http and LOCAL_HTTP_URL.match(url)))


MASK = "***"


def shown(url: str) -> str:
    """A webhook URL as answers show it: each value of its query (and its fragment) masked, since a
    query may carry a credential (a Logic Apps trigger's `sig`, say) and any reader sees answers."""
    head, hash_, fragment = url.partition("#")
    base, question, query = head.partition("?")
    if question:
        items = (item.partition("=") for item in query.split("&"))
        query = "&".join(f"{name}={MASK}" if eq else (MASK if name else "") for name, eq, _ in items)
    return base + question + query + (hash_ + MASK if fragment else hash_)


def restored(webhooks: Iterable[Webhook], current: Iterable[Webhook]) -> tuple[Webhook, ...]:
    """Webhooks sent back as answers showed them (a read-modify-write of the whole entity) are the
    stored ones; a masked URL that names none of them is a 400, not a URL to deliver to."""
    kept = tuple(current)
    urls = {hook.url for hook in kept}
    result = []
    for index, hook in enumerate(webhooks):
        if hook.url not in urls:
            candidates = [h for h in kept if shown(h.url) == hook.url]
            if candidates:  # two may differ by their query alone: the one with the same secret setting first
                pick = next((h for h in candidates if h.secret_setting == hook.secret_setting), candidates[0])
                hook = Webhook(pick.url, hook.secret_setting)
            elif "?" in hook.url and MASK in hook.url and shown(hook.url) == hook.url:
                raise BadRequestError(
                    f"Webhooks[{index}].Url has its query masked ({MASK}), as answers show it, and is none of"
                    " this endpoint's webhooks: send the whole URL",
                    target=f"Webhooks[{index}].Url",
                )
        result.append(hook)
    return tuple(result)


def checked(webhooks: Iterable[Webhook], *, allow_local_http: bool) -> tuple[Webhook, ...]:
    """The endpoint's new webhooks (one of two equal entries kept); a 400 naming the entry that
    breaks a rule."""
    given = tuple(webhooks)
    if len(given) > MAX_WEBHOOKS:
        raise BadRequestError(COUNT_RULE, target="Webhooks")
    for index, hook in enumerate(given):
        if not url_allowed(hook.url, allow_local_http=allow_local_http):
            raise BadRequestError(URL_RULE + (LOCAL_RULE if allow_local_http else ""),
                                  target=f"Webhooks[{index}].Url")
        if not SECRET_SETTING.match(hook.secret_setting):
            raise BadRequestError(SECRET_RULE, target=f"Webhooks[{index}].SecretSetting")
    return tuple(dict.fromkeys(given))
