"""Ingestion: files -> pages -> chunks -> vectors -> index."""
