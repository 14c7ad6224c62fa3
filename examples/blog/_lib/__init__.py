"""Private helpers of the blog example: configuration, storage, schemas, security (never routed)."""
