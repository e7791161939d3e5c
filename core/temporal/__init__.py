"""The client side of Temporal every process shares: connect (with the codec), search attributes."""
