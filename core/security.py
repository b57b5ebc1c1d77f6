"""Password and one-time-code hashing (argon2id) and the password rules."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import InvalidInput

# Unambiguous characters for codes read aloud or copied from a screen.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class HashParams:
    """argon2id cost. The defaults follow RFC 9106's second recommended option (64 MiB)."""

    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 2


class Hasher:
    def __init__(self, params: HashParams | None = None) -> None:
        self.params = params or HashParams()
        self._ph = PasswordHasher(
            time_cost=self.params.time_cost,
            memory_cost=self.params.memory_cost,
            parallelism=self.params.parallelism,
            type=Type.ID,
        )

    def hash(self, secret: str) -> str:
        return self._ph.hash(secret)

    def verify(self, stored: str | None, secret: str) -> bool:
        """True when ``secret`` matches; a missing hash is verified against a dummy so the time
        taken does not reveal whether the account exists."""
        try:
            return self._ph.verify(stored or self._dummy, secret) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    @cached_property
    def _dummy(self) -> str:
        return self._ph.hash(secrets.token_urlsafe(16))


def new_one_time_code() -> str:
    """A 20-character code in groups of five, about 100 bits."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(20))
    return "-".join(raw[i : i + 5] for i in range(0, 20, 5))


def normalise_code(text: str) -> str:
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    return "-".join(cleaned[i : i + 5] for i in range(0, len(cleaned), 5))


def check_password_rules(password: str, *, username: str, min_length: int) -> None:
    """Raise InvalidInput saying which rule a new password breaks."""
    if len(password) < min_length:
        raise InvalidInput(
            f"The password is too short: {len(password)} characters, at least {min_length} needed.",
            hint="A passphrase of several words is easy to remember and hard to guess.",
        )
    if len(password) > 1024:
        raise InvalidInput("The password is longer than 1,024 characters.")
    if username and username.lower() in password.lower():
        raise InvalidInput("The password must not contain the user name.")
    if len(set(password)) < 4:
        raise InvalidInput("The password repeats too few characters; choose a less regular one.")
