"""Carnet's durable embedded store: MongoDB's query language over one SQLite file per data directory."""
