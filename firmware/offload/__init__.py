"""The camera's offload to the agency's evidence server (docs/offload-protocol.md)."""
