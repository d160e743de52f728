"""The device program: controller, media pipeline, evidence, UI, configuration."""

__version__ = "0.1.0"
