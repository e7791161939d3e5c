"""On-chain layer: AsyncWeb3 client, units, signers, CREATE2 deploy/upgrade, vault service,
nonce management, event listener and the embedded anvil launcher.

Modules are imported directly (``from chain.vault import VaultService``); nothing here is
created at import time.
"""
