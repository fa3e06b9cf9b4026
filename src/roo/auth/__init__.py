"""Identity: users, passwords, access and refresh tokens, API keys, OAuth sign-in, RBAC."""
