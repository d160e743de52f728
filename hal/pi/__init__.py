"""Raspberry Pi drivers: picamera2, PyAudio, luma.oled over SPI, gpiozero on lgpio, MAX17048."""
