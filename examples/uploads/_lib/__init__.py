"""Private helpers of the uploads example (never routed)."""
