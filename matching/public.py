"""What the shell may use of matching: the request handlers' Meilisearch client and search session, and the index
rebuild."""

from matching.engine import request_client, search_session
from matching.reindex import main as reindex

__all__ = ["reindex", "request_client", "search_session"]
