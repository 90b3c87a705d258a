"""Normalisation and SHA-256 hashing of customer data for Meta CAPI and Google Ads.

One definition for both users: the API and SDK hash emails and phones in traits before Kafka
(eventschema.pii_rules), and the conversions uploader hashes what is still plain.

Rules and worked examples: shared reference ad-platforms.md §2. Everything is Unicode NFC first
(Meta's non-ASCII examples only reproduce from NFC). A value that already is 64 lowercase hex
characters is taken as hashed and passes through, so back ends may send pre-hashed values.
Never hashed: IP, user agent, fbc, fbp, click ids.

Phones: E.164 from `phonenumbers` with the order's country (default region) as the fallback for
national numbers; a number that does not parse or is not possible is refused (None), never
guessed (a silent "+1" mis-hashes foreign numbers).
"""

import hashlib
import re
import unicodedata
from collections.abc import Callable

HEX64 = re.compile(r"[0-9a-f]{64}")
_GMAIL = ("gmail.com", "googlemail.com")
# Trait keys read as an email / a phone (ingest hashes them; the uploader reads them).
EMAIL_KEYS = ("email", "Email", "email_address")
PHONE_KEYS = ("phone", "Phone", "phone_number")
# Meta's and Google's hashes differ (Gmail dots, phone '+'): a value hashed at ingest keeps
# Meta's form under its key and Google's under `<key>` + this suffix when the two differ.
GOOGLE_SUFFIX = "_sha256_google"


def is_hashed(value: str) -> bool:
    return HEX64.fullmatch(value) is not None


def sha256_hex(value: str) -> str:
    """SHA-256 of the UTF-8 value, lowercase hex; an existing 64-hex hash passes through."""
    return value if is_hashed(value) else hashlib.sha256(value.encode("utf-8")).hexdigest()


def _clean(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def e164(raw: str, region: str | None = None) -> str | None:
    """'+<country><number>' or None when it does not parse as a possible number."""
    text = _clean(raw)
    if not text:
        return None
    import phonenumbers  # here: 20 ms to import, paid only once a phone is seen

    if not text.startswith("+") and text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# -- Meta ---------------------------------------------------------------------------------------


def meta_email(value: str) -> str:
    return _clean(value).lower()


def meta_phone(raw: str, region: str | None = None) -> str | None:
    """Digits only with the country code, no '+' (from E.164)."""
    number = e164(raw, region)
    return re.sub(r"\D", "", number) if number else None


def meta_name(value: str) -> str:
    """fn/ln: lowercase, no punctuation (our stricter reading; the SDK only trims+lowercases)."""
    return re.sub(r"[\W_]+", "", _clean(value).lower())


def meta_city(value: str) -> str:
    return re.sub(r"[\d.\s()\-]+", "", _clean(value).lower())


def meta_state(value: str) -> str:
    return meta_city(value)


def meta_zip(value: str) -> str:
    return re.sub(r"\s+", "", _clean(value).lower()).split("-", 1)[0]


def meta_country(value: str) -> str:
    return _clean(value).lower()


def meta_external_id(value: str) -> str:
    """Hashed as sent (trimmed, NFC): it must match what the Pixel sends."""
    return _clean(value)


# -- Google -------------------------------------------------------------------------------------


def google_email(value: str) -> str:
    """Trim, drop all whitespace, lowercase; Gmail only: drop dots and '+suffix' in the local part
    (Data Manager rule; ad-platforms.md §8.1 lists the conflicting older rule)."""
    local, at, domain = re.sub(r"\s+", "", _clean(value)).lower().partition("@")
    if domain in _GMAIL:
        local = local.split("+", 1)[0].replace(".", "")
    return local + at + domain


def google_phone(raw: str, region: str | None = None) -> str | None:
    """E.164 with '+'."""
    return e164(raw, region)


# -- hashed helpers used by the mappers ---------------------------------------------------------


def hashed(value: object, normalise: Callable[[str], str | None]) -> str | None:
    """Normalise then hash a trait value; 64-hex passes; empty or unusable -> None."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    if not text:
        return None
    if is_hashed(text):
        return text
    normalised = normalise(text)
    return sha256_hex(normalised) if normalised else None


def google_alternates(traits: dict[str, object]) -> dict[str, str]:
    """{Meta-form hash: Google-form hash} for the contact values hashed at ingest."""
    found: dict[str, str] = {}
    for key in (*EMAIL_KEYS, *PHONE_KEYS):
        value, alternate = traits.get(key), traits.get(key + GOOGLE_SUFFIX)
        if isinstance(value, str) and isinstance(alternate, str) and is_hashed(alternate):
            found[value] = alternate
    return found
