"""What both bots share: text splitting, the runtime (Temporal client, services)."""
