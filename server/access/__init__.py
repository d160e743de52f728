"""Who may do what: roles, permission sets and the hard rules, in one service layer."""
