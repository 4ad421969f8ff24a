"""Zhipu AI, one adapter for everything that calls it (chat, embeddings, ingest, migrations):
credentials (``credentials``), failure classification (``errors``), one deadline-aware retry
policy (``retry``) and the SDK client (``client``)."""
