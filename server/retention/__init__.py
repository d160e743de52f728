"""How long recordings are kept, and how they go: retention categories, two-person
approvals, deletion with a tombstone, and the retention job."""
