"""API keys: issuing them, and checking the key and scope of every request."""
