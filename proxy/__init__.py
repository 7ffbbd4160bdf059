"""The cluster behind ``fichas up``: Caddy in front of N API instances, and their supervisor."""
