"""Benchmarks (`bodycam bench`, the power-loss harness, the TPM bench): figures, never pass/fail."""
