"""`bodycam-evidence export`: verify, decrypt and join a recording into one MP4 with a report."""
