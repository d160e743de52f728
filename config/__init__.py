"""Shipped configuration files (defaults, examples); read with importlib.resources."""
