"""Backend service layer shared by the API, the CLI and the workers (see README.md)."""
