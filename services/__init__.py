"""Backend service layer shared by api/, bots/ and the workers (see README.md)."""
