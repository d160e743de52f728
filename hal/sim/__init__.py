"""Simulated hardware: real H.264 from PyAV, gpiozero on mock pins, luma dummy display."""
