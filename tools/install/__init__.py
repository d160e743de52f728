"""Installing the firmware on a Raspberry Pi (install.sh and its Python helpers)."""
