"""The history: one row per client event, stored as Parquet (see schema.py)."""
