"""Shared building blocks: settings, schemas, registries, the LLM gateway, cache, errors."""
