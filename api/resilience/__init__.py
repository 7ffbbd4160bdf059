"""How an instance stays up and honest when load or its dependencies go wrong."""
