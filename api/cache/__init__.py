"""The Redis cache in front of the database: cache-aside for the reads every PC repeats."""
