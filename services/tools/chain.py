"""On-chain tools (price, balance, vault status, transfer): see the on-chain layer."""
