"""Public HTML pages: published listings with schema.org metadata, the sitemap, and the statistics with charts."""
