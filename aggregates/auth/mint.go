package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/spendstream/spendstream/schemas/events"
)

// MaxMintTTL bounds the lifetime of a minted token.
const MaxMintTTL = 30 * 24 * time.Hour

// mintClaims is what MintHS256 writes: roles always as an array.
type mintClaims struct {
	jwt.RegisteredClaims
	Roles    []Role `json:"roles"`
	TenantID string `json:"tenant_id,omitempty"`
}

// MintHS256 returns a token for local use (spendstream token, the demo tokens of make run) that a
// Verifier with the same secret, issuer and audience accepts from now until now+ttl: iss, aud, sub,
// iat = nbf = now, exp, a random jti, roles and, for a tenant-scoped role, tenant_id. It refuses
// what Verify would refuse: a short secret, no or unknown roles, a mix of cross-tenant and
// tenant-scoped roles, a tenant-scoped role without a valid tenant id, a tenant id with cross-tenant
// roles, and a ttl outside (0, 30 days].
func MintHS256(secret []byte, issuer, audience, subject string, roles []Role, tenantID string, ttl time.Duration,
	now time.Time) (string, error) {
	switch {
	case len(secret) < MinSecretBytes:
		return "", fmt.Errorf("mint: HS256 secret of %d bytes, want at least %d", len(secret), MinSecretBytes)
	case issuer == "" || audience == "":
		return "", errors.New("mint: issuer and audience are required")
	case subject == "" || len(subject) > maxSubjectLen:
		return "", fmt.Errorf("mint: subject must be 1..%d bytes", maxSubjectLen)
	case ttl <= 0 || ttl > MaxMintTTL:
		return "", fmt.Errorf("mint: ttl %s, want (0, %s]", ttl, MaxMintTTL)
	case len(roles) == 0 || len(roles) > maxRolesPerToken:
		return "", fmt.Errorf("mint: want 1..%d roles", maxRolesPerToken)
	}
	for _, r := range roles {
		if !r.Known() {
			return "", fmt.Errorf("mint: unknown role %q", r)
		}
	}
	kind, ok := scopeKind(roles)
	switch {
	case !ok:
		return "", errors.New("mint: cross-tenant and tenant-scoped roles cannot be mixed")
	case kind == kindTenant && !events.ValidTenant(tenantID):
		return "", fmt.Errorf("mint: a tenant-scoped role needs a tenant id matching [A-Za-z0-9_-]{1,64}, got %q", tenantID)
	case kind == kindAll && tenantID != "":
		return "", errors.New("mint: cross-tenant roles take no tenant id")
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("mint: %w", err)
	}
	now = now.Truncate(time.Second)
	c := mintClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        hex.EncodeToString(jti[:]),
		},
		Roles:    roles,
		TenantID: tenantID,
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("mint: %w", err)
	}
	return tok, nil
}
