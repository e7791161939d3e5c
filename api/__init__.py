"""FastAPI app: start, signal, update and query session workflows (see README.md)."""
