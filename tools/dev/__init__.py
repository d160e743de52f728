"""Developer tools: the demo, the README generator, a private software TPM."""
