"""Client ids and the signed token that carries them.

The bootstrap page hands each client a token signed with Django's signing framework. Every
transport and the send endpoint verify it, and compare its session hash with the request's
session cookie, without touching the database: the hot paths stay free of queries.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hmac
import re
import secrets
import threading
import time
from collections.abc import Mapping

from django.conf import settings
from django.core import signing
from django.utils.crypto import salted_hmac

from thywill import conf
from thywill.exceptions import ErrorCode, RejectedError
from thywill.identity.activated import activated

TOKEN_SALT = "thywill.client"
SESSION_SALT = "thywill.session"
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{22}")
VERIFIED_CACHE_SIZE = 16384
"""How many verified tokens each process remembers (about 0.5 KB each): a process with
more clients than this verifies some signatures again. A client that left is forgotten
at once (``forget_client``)."""
SESSION_CACHE_SIZE = 1024
"""How many session hashes each process remembers (one HMAC each to compute again)."""
PRIVATE_CHANNEL_PREFIX = "client:"


def new_client_id() -> str:
    """A fresh random client id: 22 URL-safe characters (128 bits)."""
    return secrets.token_urlsafe(16)


@functools.lru_cache(maxsize=SESSION_CACHE_SIZE)
def session_hash(session_key: str) -> str:
    """A keyed hash of a session key, so the token never carries the key itself."""
    return salted_hmac(SESSION_SALT, session_key).hexdigest()[:32]


def check_client_id(client_id: str) -> str:
    """``client_id``, when it is one.

    Raises:
        ValueError: it is not a client id.
    """
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise ValueError(f"not a client id: {client_id!r}")
    return client_id


def private_channel(client_id: str) -> str:
    """The name of a client's private channel."""
    return PRIVATE_CHANNEL_PREFIX + client_id


@dataclasses.dataclass(frozen=True, slots=True)
class ClientIdentity:
    """Who a request comes from, as proven by its token."""

    client_id: str
    application: str
    session_hash: str
    user_id: str | None = None
    expires_at: float | None = dataclasses.field(default=None, compare=False)
    """When the token that proved it expires (a ``time.time()`` value), if known: open
    streams end then, as a new request would be refused."""
    pending: bool = dataclasses.field(default=False, compare=False)
    """Whether the client was issued pending: its connect event runs, and it is
    recorded, on its first request rather than when it was issued (``THYWILL_RESUME``:
    a reloaded page that resumes its tab's client never uses the one issued to it)."""

    @property
    def channel(self) -> str:
        """The client's private channel."""
        return private_channel(self.client_id)


def identity_payload(identity: ClientIdentity) -> dict[str, str | None]:
    """An identity as the short dict that tokens (and presence leases) carry."""
    return {
        "c": identity.client_id,
        "a": identity.application,
        "s": identity.session_hash,
        "u": identity.user_id,
    }


def issue_token(identity: ClientIdentity) -> str:
    """Sign an identity into the token the browser sends with every request."""
    payload: dict[str, str | int | None] = dict(identity_payload(identity))
    if identity.pending:
        payload["p"] = 1
    return signing.dumps(payload, salt=TOKEN_SALT, compress=False)


def verify_token(token: object, session_key: str | None, *, max_age: int) -> ClientIdentity:
    """Check a token's signature, age and session; return the identity it proves.

    Raises:
        RejectedError: ``bad_token``, ``token_expired`` or ``session_mismatch``.
    """
    identity = signed_identity(token, max_age=max_age)
    if session_key is None or not hmac.compare_digest(
        identity.session_hash, session_hash(session_key)
    ):
        raise RejectedError(
            ErrorCode.SESSION_MISMATCH, "The token belongs to another session."
        )
    return identity


def signed_identity(token: object, *, max_age: int) -> ClientIdentity:
    """The identity a token carries once its signature and age hold, whichever session
    cookie comes with it (``verify_token()`` also checks that).

    Raises:
        RejectedError: ``bad_token`` or ``token_expired``.
    """
    if not isinstance(token, str) or not token or len(token) > 1024:
        raise RejectedError(ErrorCode.BAD_TOKEN, "A token is required.")
    try:
        identity, issued_at = _signed(token)
    except signing.BadSignature as exc:
        raise RejectedError(
            ErrorCode.BAD_TOKEN, "The token's signature does not match."
        ) from exc
    if time.time() - issued_at > max_age:  # as signing.loads(max_age=...) decides
        raise token_expired()
    return dataclasses.replace(identity, expires_at=issued_at + max_age)


class _Verified:
    """The tokens whose signature held, least recently used first, bounded, and
    indexed by client id so that a client that left can be forgotten."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.tokens: collections.OrderedDict[str, tuple[ClientIdentity, int]]
        self.tokens = collections.OrderedDict()
        self.by_client: dict[str, str] = {}
        self.lock = threading.Lock()

    def get(self, token: str) -> tuple[ClientIdentity, int] | None:
        with self.lock:
            found = self.tokens.get(token)
            if found is not None:
                self.tokens.move_to_end(token)
            return found

    def put(self, token: str, found: tuple[ClientIdentity, int]) -> None:
        with self.lock:
            self.tokens[token] = found
            self.by_client[found[0].client_id] = token
            while len(self.tokens) > self.size:
                evicted, (old, _) = self.tokens.popitem(last=False)
                if self.by_client.get(old.client_id) == evicted:
                    del self.by_client[old.client_id]

    def forget(self, client_id: str) -> None:
        with self.lock:
            token = self.by_client.pop(client_id, None)
            if token is not None:
                self.tokens.pop(token, None)

    def clear(self) -> None:
        with self.lock:
            self.tokens.clear()
            self.by_client.clear()

    def __len__(self) -> int:
        return len(self.tokens)


_verified = _Verified(VERIFIED_CACHE_SIZE)


def _signed(token: str) -> tuple[ClientIdentity, int]:
    """The identity a token carries and when it was issued, once its signature holds.

    Every request of a client shows the same token: remembering the ones that verified
    saves an HMAC and the settings lookups of a Signer per request. A token that does
    not verify raises, and is never remembered.

    Raises:
        signing.BadSignature: a forged or malformed token.
        RejectedError: ``bad_token``, a signed payload of the wrong shape.
    """
    found = _verified.get(token)
    if found is not None:
        return found
    payload = signing.loads(token, salt=TOKEN_SALT)
    identity = identity_from_payload(payload)
    # The signature held, so the token is "payload:timestamp:signature" as dumps() wrote.
    found = identity, signing.b62_decode(token.rsplit(":", 2)[1])
    _verified.put(token, found)
    return found


def forget_verified() -> None:
    """Forget every verified token and session hash (the secret key changed)."""
    _verified.clear()
    session_hash.cache_clear()


def forget_client(client_id: str) -> None:
    """Forget what this process remembers of a client that left: its verified token and
    that it was activated. If it comes back, its next request verifies the signature
    again (and, when it was issued pending, asks the database once)."""
    _verified.forget(client_id)
    activated.forget(client_id)


def verified_count() -> int:
    """How many verified tokens this process remembers."""
    return len(_verified)


def token_expired() -> RejectedError:
    """The error of a token past TOKEN_MAX_AGE, at the start of a request or during it."""
    return RejectedError(
        ErrorCode.TOKEN_EXPIRED, "The token has expired; load the page again."
    )


def identify(token: object, cookies: Mapping[str, str]) -> ClientIdentity:
    """The identity a token proves, checked against the session cookie in ``cookies``.

    What every endpoint and transport calls: the token's age limit is TOKEN_MAX_AGE.

    Raises:
        RejectedError: as ``verify_token()``.
    """
    return verify_token(
        token,
        cookies.get(settings.SESSION_COOKIE_NAME),
        max_age=conf.get_limits().token_max_age,
    )


def identity_from_payload(payload: object) -> ClientIdentity:
    """The identity an ``identity_payload`` dict describes.

    Raises:
        RejectedError: ``bad_token`` when the payload is not such a dict.
    """
    # A valid signature means we wrote this payload, but an older release may have written
    # another shape: check it rather than trust it.
    if not isinstance(payload, dict):
        raise RejectedError(ErrorCode.BAD_TOKEN, "The token's contents are malformed.")
    client_id, application = payload.get("c"), payload.get("a")
    digest, user_id = payload.get("s"), payload.get("u")
    if (
        not isinstance(client_id, str)
        or not CLIENT_ID.fullmatch(client_id)
        or not isinstance(application, str)
        or not isinstance(digest, str)
        or not (user_id is None or isinstance(user_id, str))
    ):
        raise RejectedError(ErrorCode.BAD_TOKEN, "The token's contents are malformed.")
    return ClientIdentity(
        client_id, application, digest, user_id, pending=payload.get("p") == 1
    )
