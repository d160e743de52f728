"""The server's identity: its Ed25519 signing key (receipts, time), TLS, the cameras' pin."""
