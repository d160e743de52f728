"""The server's own record of what people did (sign-ins, refusals, changes)."""
