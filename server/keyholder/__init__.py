"""The key holder: the only process that can open a recording, and only with a grant the
evidence server signed; every unlock and every refusal goes into its own signed log
(docs/keyholder.md)."""
