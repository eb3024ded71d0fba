package auth

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newHSVerifier(t testing.TB, now func() time.Time) *Verifier {
	t.Helper()
	v, err := NewVerifier(context.Background(), Config{Issuer: testIssuer, Audience: testAudience, Secret: testSecret, Now: now})
	require.NoError(t, err)
	return v
}

func TestVerifyHS256(t *testing.T) {
	v := newHSVerifier(t, func() time.Time { return testNow })
	base := claims(testNow)
	other := []byte("another-secret-of-at-least-32-bytes!!")
	tampered := func() string {
		parts := strings.Split(hs(t, base), ".")
		body := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + testIssuer + `","aud":"` + testAudience +
			`","sub":"mallory","exp":` + strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10) + `,"roles":["cfo"]}`))
		return parts[0] + "." + body + "." + parts[2]
	}()
	unsignedNone := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		return s
	}
	tests := map[string]struct {
		token      string
		want       Principal
		wantReason Reason
	}{
		"valid cfo": {token: hs(t, base), want: Principal{Subject: "alice@example.com", Roles: []Role{RoleCFO}}},
		"valid tenant_admin": {
			token: hs(t, with(base, "roles", []string{"tenant_admin"}, "tenant_id", "acme")),
			want:  Principal{Subject: "alice@example.com", Roles: []Role{RoleTenantAdmin}, TenantID: "acme"},
		},
		"cross-tenant role drops tenant_id": {
			token: hs(t, with(base, "tenant_id", "acme")),
			want:  Principal{Subject: "alice@example.com", Roles: []Role{RoleCFO}},
		},
		"single role claim": {
			token: hs(t, with(base, "roles", nil, "role", "ops")),
			want:  Principal{Subject: "alice@example.com", Roles: []Role{RoleOps}},
		},
		"roles as a string": {
			token: hs(t, with(base, "roles", "procurement")),
			want:  Principal{Subject: "alice@example.com", Roles: []Role{RoleProcurement}},
		},
		"roles and role merged, deduplicated": {
			token: hs(t, with(base, "roles", []string{"cfo", "coo"}, "role", "cfo")),
			want:  Principal{Subject: "alice@example.com", Roles: []Role{RoleCFO, RoleCOO}},
		},
		"audience list containing ours": {
			token: hs(t, with(base, "aud", []string{"other", testAudience})),
			want:  Principal{Subject: "alice@example.com", Roles: []Role{RoleCFO}},
		},
		"expired within leeway": {
			token: hs(t, with(base, "exp", testNow.Add(-29*time.Second).Unix(), "iat", testNow.Add(-time.Hour).Unix(),
				"nbf", testNow.Add(-time.Hour).Unix())),
			want: Principal{Subject: "alice@example.com", Roles: []Role{RoleCFO}},
		},
		"not yet valid within leeway": {
			token: hs(t, with(base, "nbf", testNow.Add(29*time.Second).Unix(), "iat", testNow.Add(29*time.Second).Unix())),
			want:  Principal{Subject: "alice@example.com", Roles: []Role{RoleCFO}},
		},
		"expired beyond leeway": {
			token: hs(t, with(base, "exp", testNow.Add(-31*time.Second).Unix(), "iat", testNow.Add(-time.Hour).Unix(),
				"nbf", testNow.Add(-time.Hour).Unix())),
			wantReason: ReasonExpired,
		},
		"not yet valid (nbf)":         {token: hs(t, with(base, "nbf", testNow.Add(time.Minute).Unix())), wantReason: ReasonNotYetValid},
		"issued in the future (iat)":  {token: hs(t, with(base, "iat", testNow.Add(time.Minute).Unix())), wantReason: ReasonNotYetValid},
		"nbf after exp":               {token: hs(t, with(base, "nbf", testNow.Add(20*time.Second).Unix(), "exp", testNow.Add(10*time.Second).Unix())), wantReason: ReasonBadTimes},
		"no exp":                      {token: hs(t, with(base, "exp", nil)), wantReason: ReasonMissingClaim},
		"no sub":                      {token: hs(t, with(base, "sub", nil)), wantReason: ReasonMissingClaim},
		"no iss":                      {token: hs(t, with(base, "iss", nil)), wantReason: ReasonMissingClaim},
		"no aud":                      {token: hs(t, with(base, "aud", nil)), wantReason: ReasonMissingClaim},
		"wrong signature":             {token: sign(t, jwt.SigningMethodHS256, other, "", base), wantReason: ReasonBadSignature},
		"tampered payload":            {token: tampered, wantReason: ReasonBadSignature},
		"wrong issuer":                {token: hs(t, with(base, "iss", "https://evil.test")), wantReason: ReasonWrongIssuer},
		"wrong audience":              {token: hs(t, with(base, "aud", "someone-else")), wantReason: ReasonWrongAudience},
		"alg none":                    {token: unsignedNone(base), wantReason: ReasonAlgorithm},
		"alg none with a signature":   {token: strings.TrimSuffix(unsignedNone(base), ".") + "." + strings.Split(hs(t, base), ".")[2], wantReason: ReasonAlgorithm},
		"HS512 is not allowed":        {token: sign(t, jwt.SigningMethodHS512, testSecret, "", base), wantReason: ReasonAlgorithm},
		"RS256 without a JWKS":        {token: sign(t, jwt.SigningMethodRS256, testKeys().rsa1, "r1", base), wantReason: ReasonAlgorithm},
		"unknown alg":                 {token: withHeader(t, hs(t, base), `{"alg":"XX999","typ":"JWT"}`), wantReason: ReasonAlgorithm},
		"unknown role":                {token: hs(t, with(base, "roles", []string{"cfo", "root"})), wantReason: ReasonUnknownRole},
		"role case matters":           {token: hs(t, with(base, "roles", []string{"CFO"})), wantReason: ReasonUnknownRole},
		"no role":                     {token: hs(t, with(base, "roles", nil)), wantReason: ReasonNoRole},
		"empty roles":                 {token: hs(t, with(base, "roles", []string{})), wantReason: ReasonNoRole},
		"mixed roles":                 {token: hs(t, with(base, "roles", []string{"cfo", "tenant_admin"}, "tenant_id", "acme")), wantReason: ReasonMixedRoles},
		"tenant_admin without tenant": {token: hs(t, with(base, "roles", []string{"tenant_admin"})), wantReason: ReasonMissingTenant},
		"tenant_admin, bad tenant":    {token: hs(t, with(base, "roles", []string{"tenant_admin"}, "tenant_id", "acme' OR 1=1")), wantReason: ReasonInvalidTenant},
		"roles of the wrong type":     {token: hs(t, with(base, "roles", 7)), wantReason: ReasonMalformed},
		"exp of the wrong type":       {token: hs(t, with(base, "exp", "tomorrow")), wantReason: ReasonMalformed},
		"too many roles":              {token: hs(t, with(base, "roles", strings.Split(strings.Repeat("cfo,", 17)[:4*17-1], ","))), wantReason: ReasonMalformed},
		"not a JWT":                   {token: "abc", wantReason: ReasonMalformed},
		"empty":                       {token: "", wantReason: ReasonMalformed},
		"too long":                    {token: strings.Repeat("a", maxTokenLen+1), wantReason: ReasonMalformed},
		"padded base64":               {token: padded(hs(t, base)), wantReason: ReasonMalformed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tc.token)
			if tc.wantReason != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrInvalidCredentials)
				assert.Equal(t, tc.wantReason, ReasonOf(err), "err: %v", err)
				assert.Zero(t, p)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, p)
			assert.NoError(t, p.Scope().Validate())
		})
	}
}

// withHeader replaces the header of token.
func withHeader(t testing.TB, token, header string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + parts[1] + "." + parts[2]
}

// padded re-encodes the token's payload with base64 padding, which strict decoding refuses.
func padded(token string) string {
	parts := strings.Split(token, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	for len(raw)%3 == 0 {
		raw = append(raw, ' ')
	}
	return parts[0] + "." + base64.URLEncoding.EncodeToString(raw) + "." + parts[2]
}

func TestVerifyLeewayConfigured(t *testing.T) {
	c := newClock(testNow)
	v, err := NewVerifier(context.Background(), Config{Issuer: testIssuer, Audience: testAudience, Secret: testSecret,
		Leeway: 2 * time.Minute, Now: c.Now})
	require.NoError(t, err)
	tok := hs(t, claims(testNow))
	c.Advance(time.Hour + 119*time.Second)
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err)
	c.Advance(2 * time.Second)
	_, err = v.Verify(context.Background(), tok)
	assert.Equal(t, ReasonExpired, ReasonOf(err))
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Issuer: testIssuer, Audience: testAudience, Secret: testSecret}
	jwksFile := writeFile(t, jwksJSON(t, jwk(&testKeys().rsa1.PublicKey, "r1", "RS256")))
	tests := map[string]struct {
		mut     func(*Config)
		wantErr string
	}{
		"ok":                     {mut: func(*Config) {}},
		"ok with JWKS only":      {mut: func(c *Config) { c.Secret, c.JWKS = nil, jwksFile }},
		"no issuer":              {mut: func(c *Config) { c.Issuer = "" }, wantErr: "issuer"},
		"no audience":            {mut: func(c *Config) { c.Audience = "" }, wantErr: "audience"},
		"no key source":          {mut: func(c *Config) { c.Secret = nil }, wantErr: "secret or a JWKS"},
		"short secret":           {mut: func(c *Config) { c.Secret = []byte("short") }, wantErr: "at least 32"},
		"alg none":               {mut: func(c *Config) { c.Algorithms = []string{"none"} }, wantErr: "not supported"},
		"alg HS512":              {mut: func(c *Config) { c.Algorithms = []string{"HS512"} }, wantErr: "not supported"},
		"RS256 without JWKS":     {mut: func(c *Config) { c.Algorithms = []string{"RS256"} }, wantErr: "no JWKS"},
		"HS256 without secret":   {mut: func(c *Config) { c.Secret, c.JWKS, c.Algorithms = nil, jwksFile, []string{"HS256"} }, wantErr: "no secret"},
		"negative leeway":        {mut: func(c *Config) { c.Leeway = -time.Second }, wantErr: "leeway"},
		"leeway above 5m":        {mut: func(c *Config) { c.Leeway = 6 * time.Minute }, wantErr: "leeway"},
		"leeway of 5m":           {mut: func(c *Config) { c.Leeway = 5 * time.Minute }},
		"jwks with a bad scheme": {mut: func(c *Config) { c.JWKS = "ftp://idp.test/jwks" }, wantErr: "http(s) URL"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := ok
			tc.mut(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				_, err = NewVerifier(context.Background(), c)
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			_, err = NewVerifier(context.Background(), c)
			require.Error(t, err)
		})
	}
}

func TestFromRequest(t *testing.T) {
	tests := map[string]struct {
		headers []string
		want    string
		ok      bool
	}{
		"bearer":                  {headers: []string{"Bearer abc.def.ghi"}, want: "abc.def.ghi", ok: true},
		"scheme case-insensitive": {headers: []string{"bearer abc.def-_~+/="}, want: "abc.def-_~+/=", ok: true},
		"no header":               {},
		"Bearer alone":            {headers: []string{"Bearer"}},
		"Bearer and a space":      {headers: []string{"Bearer "}},
		"two spaces":              {headers: []string{"Bearer  abc"}},
		"extra word":              {headers: []string{"bearer x y"}},
		"trailing space":          {headers: []string{"Bearer abc "}},
		"basic":                   {headers: []string{"Basic YWxhZGRpbjpvcGVuc2VzYW1l"}},
		"token only":              {headers: []string{"abc.def.ghi"}},
		"two headers":             {headers: []string{"Bearer a", "Bearer b"}},
		"only padding":            {headers: []string{"Bearer ==="}},
		"padding in the middle":   {headers: []string{"Bearer ab=c"}},
		"control character":       {headers: []string{"Bearer ab\tc"}},
		"non-ASCII":               {headers: []string{"Bearer abç"}},
		"too long":                {headers: []string{"Bearer " + strings.Repeat("a", maxTokenLen+1)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/freshness", nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			got, ok := FromRequest(r)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestAuthenticate(t *testing.T) {
	v := newHSVerifier(t, func() time.Time { return testNow })
	r := httptest.NewRequest("GET", "/v1/freshness", nil)
	_, err := v.Authenticate(r)
	assert.Equal(t, ReasonNoToken, ReasonOf(err))
	assert.ErrorIs(t, err, ErrInvalidCredentials)

	r.Header.Set("Authorization", "Bearer "+hs(t, claims(testNow)))
	p, err := v.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, []Role{RoleCFO}, p.Roles)
}

func TestCredentialError(t *testing.T) {
	err := refuse(ReasonExpired, jwt.ErrTokenExpired)
	assert.ErrorIs(t, err, ErrInvalidCredentials)
	assert.ErrorIs(t, err, jwt.ErrTokenExpired)
	assert.Equal(t, "invalid credentials: expired: token is expired", err.Error())
	assert.Equal(t, "invalid credentials: no_token", refuse(ReasonNoToken, nil).Error())
	assert.Equal(t, Reason(""), ReasonOf(errors.New("other")))
}

func TestMintHS256RoundTrip(t *testing.T) {
	v := newHSVerifier(t, func() time.Time { return testNow.Add(time.Minute) })
	for _, r := range Roles() {
		t.Run(string(r), func(t *testing.T) {
			tenant := ""
			if r.TenantScoped() {
				tenant = "acme"
			}
			tok, err := MintHS256(testSecret, testIssuer, testAudience, "local", []Role{r}, tenant, time.Hour, testNow)
			require.NoError(t, err)
			p, err := v.Verify(context.Background(), tok)
			require.NoError(t, err)
			assert.Equal(t, Principal{Subject: "local", Roles: []Role{r}, TenantID: tenant}, p)
		})
	}
	t.Run("expires after ttl", func(t *testing.T) {
		tok, err := MintHS256(testSecret, testIssuer, testAudience, "local", []Role{RoleOps}, "", time.Minute, testNow.Add(-2*time.Minute))
		require.NoError(t, err)
		_, err = v.Verify(context.Background(), tok)
		assert.Equal(t, ReasonExpired, ReasonOf(err))
	})
}

func TestMintHS256Refuses(t *testing.T) {
	tests := map[string]struct {
		secret []byte
		roles  []Role
		tenant string
		ttl    time.Duration
	}{
		"short secret":                {secret: []byte("short"), roles: []Role{RoleCFO}, ttl: time.Hour},
		"no roles":                    {secret: testSecret, ttl: time.Hour},
		"unknown role":                {secret: testSecret, roles: []Role{"root"}, ttl: time.Hour},
		"mixed roles":                 {secret: testSecret, roles: []Role{RoleCFO, RoleTenantAdmin}, tenant: "acme", ttl: time.Hour},
		"tenant_admin without tenant": {secret: testSecret, roles: []Role{RoleTenantAdmin}, ttl: time.Hour},
		"tenant_admin, bad tenant":    {secret: testSecret, roles: []Role{RoleTenantAdmin}, tenant: "a b", ttl: time.Hour},
		"cfo with a tenant":           {secret: testSecret, roles: []Role{RoleCFO}, tenant: "acme", ttl: time.Hour},
		"zero ttl":                    {secret: testSecret, roles: []Role{RoleCFO}},
		"ttl too long":                {secret: testSecret, roles: []Role{RoleCFO}, ttl: MaxMintTTL + time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := MintHS256(tc.secret, testIssuer, testAudience, "local", tc.roles, tc.tenant, tc.ttl, testNow)
			require.Error(t, err)
		})
	}
}

// rsaPublicPEM is what an alg-confusion attacker signs HS256 tokens with: the server's public key.
func rsaPublicPEM(t testing.TB) []byte {
	der, err := x509.MarshalPKIXPublicKey(&testKeys().rsa1.PublicKey)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
