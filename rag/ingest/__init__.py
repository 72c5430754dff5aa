"""Ingest: read files (any supported format, any encoding) into documents, then chunk them."""
