"""Viewing a recording in the browser: the player page, the view request (the key
holder's re-wrapped headers for a throwaway key the browser made) and the ciphertext of
the granted segments. The server only ever hands out ciphertext and headers; the
picture exists only in the viewer's browser."""
