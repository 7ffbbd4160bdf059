"""Hostile and careless clients (issue 17): what an outsider can send must not hurt the cluster."""
