"""Evidence: age encryption, segment files, signed manifests, device key, recovery."""
