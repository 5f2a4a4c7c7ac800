"""Who may do what: named accounts, roles and zone scopes, sessions, and the audit trail."""
