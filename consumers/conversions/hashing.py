"""The uploader's name for eventschema.contact_hashing (one definition, shared with ingest)."""

from eventschema.contact_hashing import *  # noqa: F403
