"""Private helpers of the webhooks example (never routed)."""
