"""Node and tool activities: thin async adapters over services (see README.md)."""
