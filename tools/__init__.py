"""Programs for custodians (evidence), technicians (provision) and developers (bench, sim)."""
