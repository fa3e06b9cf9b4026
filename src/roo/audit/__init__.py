"""Reading the audit trail: `GET /api/v1/admin/audit` (everyone's rows, filtered, for holders of
`audit:read`), `GET /api/v1/admin/audit/verify` (the hash chain's verification) and
`GET /api/v1/auth/audit` (the caller's own rows). Writing and sealing rows is
`roo.security.audit` and `roo.security.audit_chain`."""
