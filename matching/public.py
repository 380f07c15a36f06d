"""What the shell may use of matching: the request handlers' Meilisearch client and the index rebuild."""

from matching.engine import request_client
from matching.reindex import main as reindex

__all__ = ["reindex", "request_client"]
