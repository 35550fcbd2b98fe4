"""Client ids and the signed token that proves them (thywill/identity/tokens.py)."""

from __future__ import annotations

import time

import pytest
from django.core import signing

from thywill.exceptions import ErrorCode, RejectedError
from thywill.identity.tokens import (
    CLIENT_ID,
    TOKEN_SALT,
    ClientIdentity,
    issue_token,
    new_client_id,
    private_channel,
    session_hash,
    verify_token,
)

SESSION = "s3ss10nkeyabcdefghijklmnopqrstuv"
MAX_AGE = 3600


def identity(**changes) -> ClientIdentity:
    """A valid identity bound to SESSION, with some fields changed."""
    fields = {
        "client_id": "AbCdEfGhIjKlMnOpQrSt_-",
        "application": "echo",
        "session_hash": session_hash(SESSION),
        "user_id": None,
    }
    fields.update(changes)
    return ClientIdentity(**fields)


def payload(**changes) -> dict:
    """The payload issue_token signs for ``identity()``, with some keys changed."""
    values = {"c": "AbCdEfGhIjKlMnOpQrSt_-", "a": "echo", "s": session_hash(SESSION)}
    values["u"] = None
    values.update(changes)
    return values


class PastSigner(signing.TimestampSigner):
    """Signs with a timestamp ``age`` seconds in the past."""

    def __init__(self, *, age: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.age = age

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - self.age)


def rejection(token, session_key=SESSION, max_age=MAX_AGE) -> tuple[ErrorCode, str]:
    """The code and message verify_token rejects a token with."""
    with pytest.raises(RejectedError) as caught:
        verify_token(token, session_key, max_age=max_age)
    return caught.value.code, caught.value.message


# --- client ids and channels -------------------------------------------------------------


def test_new_client_id_has_the_documented_format():
    """A client id is 22 characters of [A-Za-z0-9_-]."""
    client_id = new_client_id()
    assert len(client_id) == 22
    assert CLIENT_ID.fullmatch(client_id)


def test_new_client_ids_are_unique():
    """Ten thousand fresh client ids are all different."""
    assert len({new_client_id() for _ in range(10_000)}) == 10_000


@pytest.mark.parametrize(
    "candidate",
    [
        "short",
        "A" * 21,
        "A" * 23,
        "A" * 21 + "!",
        "A" * 21 + " ",
        "A" * 21 + "é",
        "A" * 22 + "\n",
    ],
    ids=["short", "21", "23", "bang", "space", "non-ascii", "trailing-newline"],
)
def test_client_id_pattern_rejects_other_strings(candidate):
    """The client id pattern refuses anything but exactly 22 URL-safe characters."""
    assert CLIENT_ID.fullmatch(candidate) is None


def test_private_channel_names_the_client():
    """A client's private channel is ``client:<id>``, for the identity too."""
    assert private_channel("AbCdEfGhIjKlMnOpQrSt_-") == "client:AbCdEfGhIjKlMnOpQrSt_-"
    assert identity().channel == "client:AbCdEfGhIjKlMnOpQrSt_-"


def test_session_hash_is_stable_keyed_and_hides_the_key():
    """The session hash is 32 hex digits, the same for one key, different across keys."""
    digest = session_hash(SESSION)
    assert len(digest) == 32
    assert int(digest, 16) >= 0
    assert session_hash(SESSION) == digest
    assert session_hash(SESSION + "x") != digest
    assert SESSION not in digest


# --- round trip ----------------------------------------------------------------------


def test_token_round_trip():
    """A token issued for an identity verifies to the same identity in its session."""
    assert verify_token(issue_token(identity()), SESSION, max_age=MAX_AGE) == identity()


def test_token_round_trip_with_a_user():
    """A logged-in user's id travels in the token."""
    with_user = identity(user_id="42")
    assert verify_token(issue_token(with_user), SESSION, max_age=MAX_AGE) == with_user


def test_token_carries_no_session_key():
    """The token holds the session's hash, never the session key itself."""
    token = issue_token(identity())
    assert SESSION not in token
    assert SESSION not in str(signing.loads(token, salt=TOKEN_SALT))


def test_token_is_url_safe_text():
    """A token is plain URL-safe text: it travels as an HTTP header value (X-Thywill-Token),
    which takes visible ASCII only."""
    token = issue_token(identity())
    assert set(token) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:"
    )


# --- rejections ----------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", 42, b"bytes", ["list"]])
def test_missing_or_non_string_token_is_bad_token(token):
    """A missing, empty or non-string token is refused as bad_token."""
    assert rejection(token) == (ErrorCode.BAD_TOKEN, "A token is required.")


def test_overlong_token_is_bad_token():
    """A token over 1024 characters is refused before any signature work."""
    assert rejection("a" * 1025) == (ErrorCode.BAD_TOKEN, "A token is required.")


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), id="signature"),
        pytest.param(lambda t: ("f" if t[0] != "f" else "g") + t[1:], id="payload"),
        pytest.param(lambda t: t.replace(":", "", 1), id="separator"),
        pytest.param(lambda t: t + "x", id="appended"),
        pytest.param(lambda t: "not-a-token", id="garbage"),
        pytest.param(lambda t: ":::", id="colons"),
    ],
)
def test_tampered_token_is_bad_token(tamper):
    """Any change to a token makes its signature fail: bad_token."""
    token = tamper(issue_token(identity()))
    assert rejection(token) == (
        ErrorCode.BAD_TOKEN,
        "The token's signature does not match.",
    )


def test_token_signed_with_another_key_is_bad_token():
    """A token signed with another secret key is refused."""
    token = signing.dumps(payload(), key="another-secret-key", salt=TOKEN_SALT)
    assert rejection(token) == (
        ErrorCode.BAD_TOKEN,
        "The token's signature does not match.",
    )


def test_token_signed_with_another_salt_is_bad_token():
    """A value signed by this site for another purpose (salt) is not a token."""
    token = signing.dumps(payload(), salt="some.other.purpose")
    assert rejection(token) == (
        ErrorCode.BAD_TOKEN,
        "The token's signature does not match.",
    )


def test_expired_token_is_token_expired():
    """A token older than max_age is refused as token_expired."""
    token = PastSigner(age=120, salt=TOKEN_SALT).sign_object(payload())
    assert rejection(token, max_age=60) == (
        ErrorCode.TOKEN_EXPIRED,
        "The token has expired; load the page again.",
    )


def test_token_younger_than_max_age_is_accepted():
    """A token issued in the past but within max_age still verifies."""
    token = PastSigner(age=30, salt=TOKEN_SALT).sign_object(payload())
    assert verify_token(token, SESSION, max_age=60) == identity()


def test_token_of_another_session_is_session_mismatch():
    """A token used with another session cookie is refused as session_mismatch."""
    assert rejection(issue_token(identity()), session_key="another-session") == (
        ErrorCode.SESSION_MISMATCH,
        "The token belongs to another session.",
    )


@pytest.mark.parametrize("session_key", [None, ""])
def test_token_without_a_session_is_session_mismatch(session_key):
    """A token sent without a session cookie is refused as session_mismatch."""
    assert rejection(issue_token(identity()), session_key=session_key) == (
        ErrorCode.SESSION_MISMATCH,
        "The token belongs to another session.",
    )


def test_expiry_is_checked_before_the_session():
    """An expired token of another session is reported as expired (reload fixes both)."""
    token = PastSigner(age=120, salt=TOKEN_SALT).sign_object(payload())
    assert rejection(token, session_key="other", max_age=60)[0] == ErrorCode.TOKEN_EXPIRED


@pytest.mark.parametrize(
    "signed",
    [
        pytest.param(["c", "a", "s", "u"], id="list"),
        pytest.param("just a string", id="string"),
        pytest.param(None, id="null"),
        pytest.param({}, id="empty-object"),
        pytest.param(payload(c="short"), id="bad-client-id"),
        pytest.param(payload(c=None), id="no-client-id"),
        pytest.param(payload(a=7), id="application-not-string"),
        pytest.param(payload(s=None), id="no-session-hash"),
        pytest.param(payload(u=42), id="user-id-not-string"),
    ],
)
def test_validly_signed_malformed_payload_is_bad_token(signed):
    """A token whose signature is valid but whose contents have another shape is refused."""
    token = signing.dumps(signed, salt=TOKEN_SALT)
    assert rejection(token) == (ErrorCode.BAD_TOKEN, "The token's contents are malformed.")


# --- verified tokens are remembered, never their checks of age and session ---------------


def test_a_remembered_token_still_expires():
    """The signature of a token is checked once; its age on every use."""
    token = issue_token(identity())
    assert verify_token(token, SESSION, max_age=MAX_AGE).client_id == identity().client_id
    assert rejection(token, max_age=-1)[0] is ErrorCode.TOKEN_EXPIRED


def test_a_remembered_token_still_checks_its_session():
    token = issue_token(identity())
    verify_token(token, SESSION, max_age=MAX_AGE)
    code, _ = rejection(token, session_key="another" + SESSION)
    assert code is ErrorCode.SESSION_MISMATCH


def test_remembered_tokens_are_forgotten_when_the_secret_key_changes(settings):
    token = issue_token(identity())
    verify_token(token, SESSION, max_age=MAX_AGE)
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    assert rejection(token)[0] is ErrorCode.BAD_TOKEN
