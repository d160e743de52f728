"""Configuration: TOML loading, layering (defaults < device file < flags) and validation."""
