"""Normalisation and hashing against the worked examples of ad-platforms.md §2."""

import hashlib
import unicodedata

import pytest

from consumers.conversions import hashing as h


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.mark.parametrize(
    ("normalise", "raw", "normalised", "digest"),
    [
        (h.meta_email, "John_Smith@gmail.com", "john_smith@gmail.com",
         "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"),
        (lambda v: h.meta_phone(v, "US"), "(650)555-1212", "16505551212",
         "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"),
        (h.meta_name, "Mary", "mary",
         "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"),
        (h.meta_name, "Valéry", "valéry",
         "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
        (h.meta_name, "정", "정",
         "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"),
        (h.meta_city, "San Francisco", "sanfrancisco",
         "1a6bd4d9d79dc0a79b53795c70d3349fa9e38968a3fbefbfe8783efb1d2b6aac"),
        (h.meta_zip, "94035-1234", "94035",
         "1794327a4d443904421f5ca1f3d72d0a62ba2f0770d80755ec2220fc0efb052e"),
        (h.google_email, "  Jane.Doe+Promo@Gmail.com ", "janedoe@gmail.com",
         "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69"),
        (h.google_email, "User.Name+NYC@Example.com", "user.name+nyc@example.com",
         "f109a2a632fbcea5fc82049f50beed3d8621bf9034399f437fb622222acccdac"),
        (lambda v: h.google_phone(v, "US"), "(800)555-0100", "+18005550100",
         "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30"),
        (lambda v: h.e164(v, "US"), "(650) 555-1212", "+16505551212",
         "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8"),
    ],
)  # fmt: skip
def test_worked_examples(normalise: object, raw: str, normalised: str, digest: str) -> None:
    assert callable(normalise)
    assert normalise(raw) == normalised
    assert h.sha256_hex(normalised) == digest
    assert h.hashed(raw, normalise) == digest


def test_nfd_input_is_composed_before_hashing() -> None:
    nfd = unicodedata.normalize("NFD", "Valéry")
    assert nfd != "Valéry"
    assert h.hashed(nfd, h.meta_name) == (
        "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"
    )
    assert sha(nfd.lower()) != h.hashed(nfd, h.meta_name)


def test_hashes_pass_through_and_are_never_double_hashed() -> None:
    digest = sha("john_smith@gmail.com")
    assert h.sha256_hex(digest) == digest
    assert h.hashed(digest, h.meta_email) == digest
    assert h.hashed(digest.upper(), h.meta_external_id) == sha(digest.upper())  # not lowercase


def test_phones_need_a_country_and_bad_numbers_are_refused() -> None:
    assert h.meta_phone("+44 20 7946 0958") == "442079460958"
    assert h.meta_phone("020 7946 0958", "GB") == "442079460958"
    assert h.meta_phone("0044 20 7946 0958") == "442079460958"
    assert h.meta_phone("650 555 1212") is None  # no country: not guessed as +1
    assert h.google_phone("not a phone", "US") is None
    assert h.google_phone("12", "US") is None
    assert h.hashed("12", lambda v: h.google_phone(v, "US")) is None


def test_gmail_rules_only_for_gmail_and_meta_keeps_dots() -> None:
    assert h.google_email("J.Doe+x@googlemail.com") == "jdoe@googlemail.com"
    assert h.google_email("j.doe+x@gmail.co.uk") == "j.doe+x@gmail.co.uk"
    assert h.meta_email(" J.Doe+x@Gmail.com ") == "j.doe+x@gmail.com"


def test_empty_and_non_string_values_give_nothing() -> None:
    assert h.hashed("", h.meta_email) is None
    assert h.hashed("   ", h.meta_email) is None
    assert h.hashed(None, h.meta_email) is None
    assert h.hashed(True, h.meta_email) is None
    assert h.hashed({"a": 1}, h.meta_email) is None
