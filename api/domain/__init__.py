"""Domain rules that hold whatever the storage or transport: documents, the order workflow."""
