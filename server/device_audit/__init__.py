"""Cameras' audit logs, received incrementally with the chain checked across uploads."""
