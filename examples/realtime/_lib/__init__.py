"""Private helpers of the realtime example (never routed)."""
