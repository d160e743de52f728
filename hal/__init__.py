"""Hardware abstraction layer: interfaces (interfaces.py), simulated (sim/) and Raspberry Pi (pi/)."""
