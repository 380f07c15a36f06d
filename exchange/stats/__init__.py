"""Public statistics, the listing change feed and its partner keys."""
