"""Content-addressed blob storage: a folder in the data directory, or S3."""
