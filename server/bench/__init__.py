"""`bodycam-server bench`: the offload's figures (docs in command.py)."""
