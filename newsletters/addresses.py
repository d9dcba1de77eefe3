"""The one rule for what counts as the same address, and its hash.

An address is stored normalised (trimmed, lower-cased, its domain in IDNA
form), so "Ada@Example.COM " and "ada@example.com" are one subscriber. Mail
providers treat local parts case-insensitively in practice, and a list that
kept both spellings would mail one person twice.

Suppressions keep only the address's hash, so an erased reader leaves no
address behind, yet an import or a signup of the same address is still
recognised. The hash is salted with a fixed, public string rather than the
secret key: a rotated key must never make an erased address importable again.
"""

import hashlib
import re

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

HASH_SALT = b"newsroom.suppression.v1:"
MAX_LENGTH = 254  # RFC 5321's limit for a forward path

_validate = EmailValidator(message="Enter a whole email address, such as name@example.com.")
# Control characters, spaces of any kind, and what would make it a list of
# addresses or a display name rather than one address.
_NOT_IN_AN_ADDRESS = re.compile(r'[\x00-\x20\x7f-\x9f<>,;\\"\s]')


class InvalidAddress(ValueError):
    """An address that cannot be mailed, with a sentence saying why."""


def normalize_email(value: str) -> str:
    """The stored form of value, or InvalidAddress with a sentence."""
    address = (value or "").strip()
    if not address:
        raise InvalidAddress("Enter an email address.")
    if len(address) > MAX_LENGTH:
        raise InvalidAddress(f"An email address has at most {MAX_LENGTH} characters.")
    if _NOT_IN_AN_ADDRESS.search(address):
        raise InvalidAddress("Enter one email address, with no spaces or brackets.")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress("Enter a whole email address, such as name@example.com.")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidAddress("The part after @ is not a valid domain name.") from None
    address = f"{local}@{domain}".lower()
    try:
        _validate(address)
    except ValidationError:
        raise InvalidAddress("Enter a whole email address, such as name@example.com.") from None
    if len(address) > MAX_LENGTH:
        raise InvalidAddress(f"An email address has at most {MAX_LENGTH} characters.")
    return address


def address_hash(normalized: str) -> str:
    """The suppression hash of an address already normalised."""
    return hashlib.sha256(HASH_SALT + normalized.encode()).hexdigest()
