"""Hardware abstraction layer: interfaces, simulated (sim/) and Raspberry Pi (pi/) drivers."""
