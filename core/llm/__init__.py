"""LLM gateway (litellm) and the deterministic offline model."""
