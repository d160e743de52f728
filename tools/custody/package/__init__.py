"""The prosecutor package: signed MP4s (C2PA), reports, re-wrapped ciphertext, a signed index."""
