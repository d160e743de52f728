"""People: accounts, passwords (argon2id), the TOTP second factor, sign-in and sessions."""
