package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

const (
	testIssuer   = "https://idp.spendstream.test"
	testAudience = "spendstream-api"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef-test")
	testNow    = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
)

// testKeys are generated once per test binary: RSA generation is slow under -race.
var testKeys = sync.OnceValue(func() struct {
	rsa1, rsa2 *rsa.PrivateKey
	ec1        *ecdsa.PrivateKey
} {
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return struct {
		rsa1, rsa2 *rsa.PrivateKey
		ec1        *ecdsa.PrivateKey
	}{gen(), gen(), ec}
})

// clock is a settable clock for the verifier and the limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// claims returns valid claims for role cfo at now; change them per case.
func claims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   testIssuer,
		"aud":   testAudience,
		"sub":   "alice@example.com",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"roles": []string{"cfo"},
	}
}

func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func hs(t testing.TB, c jwt.MapClaims) string {
	return sign(t, jwt.SigningMethodHS256, testSecret, "", c)
}

// jwksJSON renders the public halves of keys under their kids, pinned to alg when alg is set.
func jwksJSON(t testing.TB, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		if !k.IsPublic() {
			k = k.Public()
		}
		set.Keys = append(set.Keys, k)
	}
	b, err := json.Marshal(set)
	require.NoError(t, err)
	return b
}

func jwk(key any, kid, alg string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"}
}

func writeFile(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

func writeFileAt(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }
