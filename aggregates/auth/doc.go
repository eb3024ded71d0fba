// Package auth is spendstream's authentication and authorization kit: it verifies the bearer JWTs
// of the query API, maps their roles to named capabilities and to the aggregates.Scope every store
// read applies, authenticates event producers by key, guards the demo credentials, rate-limits per
// key and writes audit lines. It holds no HTTP handlers; the API and ingest layers call it.
//
// The pieces:
//
//   - Verifier checks a JWT (HS256 with a shared secret, RS256/ES256 with keys from a JWKS file or
//     URL) against the configured issuer, audience, algorithms and clock-skew leeway and returns a
//     Principal. Every failure wraps ErrInvalidCredentials and carries a Reason to log; clients
//     should only ever see "401 invalid credentials".
//   - Matrix says which Role holds which Capability (DefaultMatrix, overridable with ParseMatrix);
//     Principal.Scope says which tenants' rows a caller may read. A tenant-scoped role only ever
//     holds tenant-safe capabilities.
//   - MintHS256 makes tokens for local use (spendstream token).
//   - ProducerKeys authenticates POST /v1/events callers by key and scopes them to tenants.
//   - RefuseDemoOnPublic keeps the demo secret and keys off non-loopback addresses.
//   - Limiter is a keyed token-bucket limiter with a bounded number of keys.
//   - LogAudit writes one structured "audit" line per request.
//
// The package does no I/O of its own beyond reading a JWKS (file or URL) and never reads env.
package auth
