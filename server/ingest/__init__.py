"""The offload protocol's upload path: manifest, resumable files, receipt."""
