"""Who wore which camera when, notes, cases and legal holds on recordings, and the
recordings search: the custody of evidence, every change through the access gate."""
