"""Chat bots: thin clients of the session service. See bots/README.md."""
