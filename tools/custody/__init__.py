"""The evidence custodian's tools (`bodycam-evidence`): verify, export, decrypt, keygen."""
