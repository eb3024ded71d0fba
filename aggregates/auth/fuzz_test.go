package auth

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify: Verify never panics, every refusal wraps ErrInvalidCredentials with a Reason, and
// every accepted token yields a principal with a valid Scope. The verifier accepts HS256 and, from
// a JWKS file, RS256 and ES256. Run longer with: go test -fuzz FuzzVerify ./aggregates/auth/
func FuzzVerify(f *testing.F) {
	k := testKeys()
	v, err := NewVerifier(context.Background(), Config{Issuer: testIssuer, Audience: testAudience, Secret: testSecret,
		JWKS: writeFile(f, mixedJWKS(f)), Now: func() time.Time { return testNow }})
	if err != nil {
		f.Fatal(err)
	}
	base := claims(testNow)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, base).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, s := range []string{
		hs(f, base),
		hs(f, with(base, "roles", []string{"tenant_admin"}, "tenant_id", "acme")),
		hs(f, with(base, "roles", "ops", "aud", []string{"a", testAudience})),
		hs(f, with(base, "exp", "x")),
		sign(f, jwt.SigningMethodRS256, k.rsa1, "r1", base),
		sign(f, jwt.SigningMethodES256, k.ec1, "e1", base),
		sign(f, jwt.SigningMethodHS256, rsaPublicPEM(f), "r1", base),
		none,
		"", ".", "..", "...", "a.b.c", "e30.e30.", "eyJhbGciOiJIUzI1NiJ9..",
		"eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJSUzI1NiIsImtpZCI6e319.e30.AA",
		strings.Repeat("A", 100) + "." + strings.Repeat("B", 100) + ".C",
		"\x00\xff.\u2028.\ufffd",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(context.Background(), token)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("refusal without a reason: %v", err)
			}
			if p.Subject != "" || p.Roles != nil || p.TenantID != "" {
				t.Fatalf("refusal with a principal: %+v", p)
			}
			return
		}
		if err := p.Scope().Validate(); err != nil {
			t.Fatalf("accepted %q with an invalid scope: %+v", token, p)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		if got, ok := FromRequest(r); ok && got != token {
			t.Fatalf("FromRequest changed the token: %q", got)
		}
	})
}
