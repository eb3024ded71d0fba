package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mixedJWKS holds an RSA key (r1), an EC key (e1), and keys that must be skipped: a symmetric key,
// an encryption key, an RSA key declared for RS512, and a key type go-jose does not know.
func mixedJWKS(t testing.TB) []byte {
	k := testKeys()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(jwksJSON(t,
		jwk(&k.rsa1.PublicKey, "r1", "RS256"),
		jwk(&k.ec1.PublicKey, "e1", ""),
		jose.JSONWebKey{Key: &k.rsa2.PublicKey, KeyID: "enc", Use: "enc"},
		jose.JSONWebKey{Key: &k.rsa2.PublicKey, KeyID: "r512", Algorithm: "RS512"},
	), &set))
	set.Keys = append(set.Keys,
		json.RawMessage(`{"kty":"oct","kid":"hmac","k":"`+"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"+`"}`),
		json.RawMessage(`{"kty":"XYZ","kid":"future"}`),
	)
	b, err := json.Marshal(set)
	require.NoError(t, err)
	return b
}

func TestParseJWKS(t *testing.T) {
	keys, err := parseJWKS(mixedJWKS(t))
	require.NoError(t, err)
	got := map[string]string{}
	for _, k := range keys {
		got[k.kid] = k.alg
	}
	assert.Equal(t, map[string]string{"r1": "RS256", "e1": "ES256"}, got)

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	for name, data := range map[string][]byte{
		"not JSON":          []byte("{"),
		"no keys":           []byte(`{"keys":[]}`),
		"only symmetric":    []byte(`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`),
		"RSA 1024":          jwksJSON(t, jwk(&small.PublicKey, "small", "")),
		"P-384":             jwksJSON(t, jwk(&p384.PublicKey, "p384", "")),
		"EC declared RS256": jwksJSON(t, jwk(&testKeys().ec1.PublicKey, "e", "RS256")),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseJWKS(data)
			require.Error(t, err)
		})
	}
	t.Run("private keys are reduced to public", func(t *testing.T) {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk(testKeys().rsa1, "r1", "RS256")}})
		require.NoError(t, err)
		keys, err := parseJWKS(b)
		require.NoError(t, err)
		require.Len(t, keys, 1)
		assert.IsType(t, &rsa.PublicKey{}, keys[0].key)
	})
}

func TestVerifyJWKSFile(t *testing.T) {
	k := testKeys()
	path := writeFile(t, mixedJWKS(t))
	v, err := NewVerifier(context.Background(), Config{Issuer: testIssuer, Audience: testAudience, JWKS: path,
		Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	base := claims(testNow)
	pem := rsaPublicPEM(t)
	tests := map[string]struct {
		token      string
		wantReason Reason
	}{
		"RS256 with kid":               {token: sign(t, jwt.SigningMethodRS256, k.rsa1, "r1", base)},
		"ES256 with kid":               {token: sign(t, jwt.SigningMethodES256, k.ec1, "e1", base)},
		"RS256 without kid":            {token: sign(t, jwt.SigningMethodRS256, k.rsa1, "", base)},
		"ES256 without kid":            {token: sign(t, jwt.SigningMethodES256, k.ec1, "", base)},
		"RS256 by another key":         {token: sign(t, jwt.SigningMethodRS256, k.rsa2, "r1", base), wantReason: ReasonBadSignature},
		"RS256 without kid, other key": {token: sign(t, jwt.SigningMethodRS256, k.rsa2, "", base), wantReason: ReasonBadSignature},
		"unknown kid":                  {token: sign(t, jwt.SigningMethodRS256, k.rsa1, "nope", base), wantReason: ReasonUnknownKey},
		"kid of a skipped enc key":     {token: sign(t, jwt.SigningMethodRS256, k.rsa2, "enc", base), wantReason: ReasonUnknownKey},
		"kid of the skipped oct key": {
			token:      sign(t, jwt.SigningMethodHS256, []byte("secret-secret-secret-secret-secret"), "hmac", base),
			wantReason: ReasonAlgorithm,
		},
		"RS256 token, EC kid":                   {token: sign(t, jwt.SigningMethodRS256, k.rsa1, "e1", base), wantReason: ReasonAlgorithm},
		"ES256 token, RSA kid":                  {token: sign(t, jwt.SigningMethodES256, k.ec1, "r1", base), wantReason: ReasonAlgorithm},
		"alg confusion: HS256 with RSA pub PEM": {token: sign(t, jwt.SigningMethodHS256, pem, "r1", base), wantReason: ReasonAlgorithm},
		"alg confusion: HS256, no kid":          {token: sign(t, jwt.SigningMethodHS256, pem, "", base), wantReason: ReasonAlgorithm},
		"PS256 is not allowed":                  {token: sign(t, jwt.SigningMethodPS256, k.rsa1, "r1", base), wantReason: ReasonAlgorithm},
		"wrong audience":                        {token: sign(t, jwt.SigningMethodES256, k.ec1, "e1", with(base, "aud", "x")), wantReason: ReasonWrongAudience},
		"kid of the wrong type":                 {token: withHeader(t, sign(t, jwt.SigningMethodRS256, k.rsa1, "r1", base), `{"alg":"RS256","kid":7}`), wantReason: ReasonMalformed},
		"tenant_admin without tenant via RS256": {token: sign(t, jwt.SigningMethodRS256, k.rsa1, "r1", with(base, "roles", []string{"tenant_admin"})), wantReason: ReasonMissingTenant},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tc.token)
			if tc.wantReason != "" {
				assert.ErrorIs(t, err, ErrInvalidCredentials)
				assert.Equal(t, tc.wantReason, ReasonOf(err), "err: %v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, Principal{Subject: "alice@example.com", Roles: []Role{RoleCFO}}, p)
		})
	}
}

// TestVerifyAlgConfusionWithSecretAndJWKS: with both an HS256 secret and RSA keys configured, an
// HS256 token signed with the RSA public key is checked against the secret only.
func TestVerifyAlgConfusionWithSecretAndJWKS(t *testing.T) {
	v, err := NewVerifier(context.Background(), Config{Issuer: testIssuer, Audience: testAudience, Secret: testSecret,
		JWKS: writeFile(t, mixedJWKS(t)), Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, rsaPublicPEM(t), "r1", claims(testNow)))
	assert.Equal(t, ReasonBadSignature, ReasonOf(err))
	_, err = v.Verify(context.Background(), hs(t, claims(testNow)))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, testKeys().rsa1, "r1", claims(testNow)))
	require.NoError(t, err)
}

// jwksServer serves a JWKS that tests can swap, counting the requests.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	hits   atomic.Int64
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status = body, status
}

func TestVerifyJWKSURLRotation(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, jwksJSON(t, jwk(&k.rsa1.PublicKey, "k1", "RS256")))
	clk := newClock(testNow)
	v, err := NewVerifier(context.Background(), Config{Issuer: testIssuer, Audience: testAudience, JWKS: srv.URL,
		JWKSMinInterval: 30 * time.Second, JWKSRefresh: 15 * time.Minute, Now: clk.Now})
	require.NoError(t, err)
	require.EqualValues(t, 1, srv.hits.Load(), "loaded at start")

	verify := func(key *rsa.PrivateKey, kid string) error {
		_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, key, kid, claims(clk.Now())))
		return err
	}
	require.NoError(t, verify(k.rsa1, "k1"))
	require.EqualValues(t, 1, srv.hits.Load(), "a known kid is served from the cache")

	// The IdP rotates to k2. Within the minimum interval an unknown kid does not trigger a fetch.
	srv.set(jwksJSON(t, jwk(&k.rsa2.PublicKey, "k2", "RS256")), http.StatusOK)
	for range 20 {
		assert.Equal(t, ReasonUnknownKey, ReasonOf(verify(k.rsa2, "k2")))
	}
	require.EqualValues(t, 1, srv.hits.Load(), "refreshes are rate-limited")

	// Past the interval, the unknown kid triggers one refresh and verifies.
	clk.Advance(31 * time.Second)
	require.NoError(t, verify(k.rsa2, "k2"))
	require.EqualValues(t, 2, srv.hits.Load())
	require.NoError(t, verify(k.rsa2, "k2"))
	require.EqualValues(t, 2, srv.hits.Load())

	// k1 was rotated out: refused, and with no new fetch inside the interval.
	for range 20 {
		assert.Equal(t, ReasonUnknownKey, ReasonOf(verify(k.rsa1, "k1")))
	}
	require.EqualValues(t, 2, srv.hits.Load())

	// Concurrent unknown kids after the interval: still a single fetch.
	clk.Advance(31 * time.Second)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() { assert.Equal(t, ReasonUnknownKey, ReasonOf(verify(k.rsa1, "zzz"))) })
	}
	wg.Wait()
	require.EqualValues(t, 3, srv.hits.Load())

	// Periodic refresh: a known kid past the refresh age reloads once.
	clk.Advance(16 * time.Minute)
	require.NoError(t, verify(k.rsa2, "k2"))
	require.EqualValues(t, 4, srv.hits.Load())
	require.NoError(t, verify(k.rsa2, "k2"))
	require.EqualValues(t, 4, srv.hits.Load())

	// The IdP fails: the cached keys stay in use, and failures are rate-limited too.
	srv.set([]byte("oops"), http.StatusInternalServerError)
	clk.Advance(16 * time.Minute)
	require.NoError(t, verify(k.rsa2, "k2"))
	require.EqualValues(t, 5, srv.hits.Load())
	assert.Equal(t, ReasonUnknownKey, ReasonOf(verify(k.rsa1, "k9")))
	require.EqualValues(t, 5, srv.hits.Load())

	// A set that parses but has no usable key is a failed load too: the old keys stay.
	srv.set([]byte(`{"keys":[]}`), http.StatusOK)
	clk.Advance(31 * time.Second)
	require.NoError(t, verify(k.rsa2, "k2"))
	require.EqualValues(t, 6, srv.hits.Load())
}

func TestVerifyJWKSURLES256(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, jwksJSON(t, jwk(&k.ec1.PublicKey, "e1", "ES256")))
	v, err := NewVerifier(context.Background(), Config{Issuer: testIssuer, Audience: testAudience, JWKS: srv.URL,
		Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	p, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, k.ec1, "e1",
		with(claims(testNow), "roles", []string{"tenant_admin"}, "tenant_id", "t-42")))
	require.NoError(t, err)
	assert.Equal(t, Principal{Subject: "alice@example.com", Roles: []Role{RoleTenantAdmin}, TenantID: "t-42"}, p)
}

func TestNewVerifierJWKSUnavailable(t *testing.T) {
	srv := newJWKSServer(t, []byte("nope"))
	srv.set([]byte("nope"), http.StatusServiceUnavailable)
	_, err := NewVerifier(context.Background(), Config{Issuer: testIssuer, Audience: testAudience, JWKS: srv.URL})
	require.ErrorContains(t, err, "status 503")

	_, err = NewVerifier(context.Background(), Config{Issuer: testIssuer, Audience: testAudience,
		JWKS: t.TempDir() + "/missing.json"})
	require.Error(t, err)

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer slow.Close()
	start := time.Now()
	_, err = NewVerifier(context.Background(), Config{Issuer: testIssuer, Audience: testAudience, JWKS: slow.URL,
		JWKSTimeout: 100 * time.Millisecond})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestVerifyJWKSFileReload(t *testing.T) {
	k := testKeys()
	path := writeFile(t, jwksJSON(t, jwk(&k.rsa1.PublicKey, "k1", "")))
	clk := newClock(testNow)
	v, err := NewVerifier(context.Background(), Config{Issuer: testIssuer, Audience: testAudience, JWKS: path, Now: clk.Now})
	require.NoError(t, err)
	require.NoError(t, writeFileAt(path, jwksJSON(t, jwk(&k.rsa2.PublicKey, "k2", ""))))
	tok := sign(t, jwt.SigningMethodRS256, k.rsa2, "k2", claims(testNow))
	_, err = v.Verify(context.Background(), tok)
	assert.Equal(t, ReasonUnknownKey, ReasonOf(err))
	clk.Advance(DefaultJWKSMinInterval)
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err)
}
