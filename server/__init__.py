"""The agency's evidence server: receives, verifies and keeps what cameras offload.

It holds ciphertext only (age-encrypted segments and signed manifests, exactly as the
camera wrote them): it never has an identity of the evidence authority and never
decrypts (the benchmark alone makes a throwaway age key in memory for its synthetic
recordings of random bytes). Laid out by domain:
devices (enrolment, request signatures), ingest (the offload protocol's upload path),
recordings (what is held and its state), device_audit (cameras' audit logs), identity
(the server's signing key, TLS and signed time), storage (content-addressed blobs in a
folder or S3), database (SQLAlchemy + Alembic). docs/server.md explains what is durable
when; docs/offload-protocol.md is the contract with the camera.
"""
