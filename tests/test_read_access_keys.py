"""The key in a read request's Authorization header (eventschema.read_access.presented_key):
malformed Basic credentials are no key (the caller gets 401), never an exception (a 500)."""

import pytest

from eventschema.read_access import presented_key


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Basic cmVhZC1rZXk6", "read-key"),  # "read-key:"
        ("basic cmVhZC1rZXk6c2VjcmV0", "read-key"),  # the password is ignored
        ("Bearer  read-key ", "read-key"),
        (None, None),
        ("", None),
        ("Basic ", None),
        ("Digest abc", None),
        ("Basic %%%", None),  # not base64
        ("Basic cmVhZC1rZXk6\xe9", None),  # not ASCII: a header may carry any latin-1 byte
        ("Basic /w==", None),  # base64 of a byte that is not UTF-8
        ("Basic cmVhZA", None),  # padding missing
    ],
)
def test_presented_key(header: str | None, key: str | None) -> None:
    assert presented_key(header) == key
