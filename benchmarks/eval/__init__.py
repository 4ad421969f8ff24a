"""The bilingual retrieval and answer evaluation (``make eval``; see README.md)."""
