"""Recordings the server holds: their files, state, receipts, and fetching them out."""
