package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

const (
	maxJWKSBytes   = 1 << 20 // a JWKS larger than this is refused
	maxJWKSKeys    = 100     // and so is one with more keys
	minRSAKeyBits  = 2048
	jwksAcceptType = "application/jwk-set+json, application/json"
)

// pinnedKey is a JWKS public key with the one algorithm it may verify: a token whose alg is not the
// key's never reaches it.
type pinnedKey struct {
	kid string
	alg string // jwt.SigningMethodRS256.Alg() or jwt.SigningMethodES256.Alg()
	key any    // *rsa.PublicKey or *ecdsa.PublicKey
}

// parseJWKS reads a JWK Set and keeps its usable signature keys: RSA keys of at least 2048 bits
// for RS256 and P-256 keys for ES256, each pinned to that algorithm. A key whose "alg" names
// another algorithm, whose "use" is not "sig", or whose type go-jose does not understand is skipped
// (RFC 7517 §5); symmetric ("oct") keys are always skipped. Private keys are reduced to their
// public half. A set without any usable key is an error.
func parseJWKS(data []byte) ([]pinnedKey, error) {
	// Each key is parsed on its own so that one key of an unsupported type does not void the set,
	// which unmarshalling a whole jose.JSONWebKeySet would do.
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if len(raw.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("jwks: %d keys, want at most %d", len(raw.Keys), maxJWKSKeys)
	}
	var set jose.JSONWebKeySet
	var skipped []error
	for i, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		set.Keys = append(set.Keys, k)
	}
	var out []pinnedKey
	for _, k := range set.Keys {
		pk, err := pin(k)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %q: %w", k.KeyID, err))
			continue
		}
		out = append(out, pk)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("jwks: no usable RS256 or ES256 signing key: %w", errors.Join(skipped...))
	}
	return out, nil
}

func pin(k jose.JSONWebKey) (pinnedKey, error) {
	if k.Use != "" && k.Use != "sig" {
		return pinnedKey{}, fmt.Errorf("use %q is not sig", k.Use)
	}
	if !k.IsPublic() {
		k = k.Public() // a private key: its public half; a symmetric key: nothing
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		alg := jwt.SigningMethodRS256.Alg()
		if k.Algorithm != "" && k.Algorithm != alg {
			return pinnedKey{}, fmt.Errorf("RSA key for alg %q, only %s is supported", k.Algorithm, alg)
		}
		if key.N.BitLen() < minRSAKeyBits {
			return pinnedKey{}, fmt.Errorf("RSA key of %d bits, want at least %d", key.N.BitLen(), minRSAKeyBits)
		}
		return pinnedKey{kid: k.KeyID, alg: alg, key: key}, nil
	case *ecdsa.PublicKey:
		alg := jwt.SigningMethodES256.Alg()
		if k.Algorithm != "" && k.Algorithm != alg {
			return pinnedKey{}, fmt.Errorf("EC key for alg %q, only %s is supported", k.Algorithm, alg)
		}
		if key.Curve != elliptic.P256() {
			return pinnedKey{}, fmt.Errorf("EC key on %s, want P-256", key.Curve.Params().Name)
		}
		return pinnedKey{kid: k.KeyID, alg: alg, key: key}, nil
	}
	return pinnedKey{}, fmt.Errorf("key type %T is not supported", k.Key)
}

// jwksSource holds the keys of a JWKS file or URL: loaded at start, reloaded when older than
// refresh, and reloaded when a token names a kid it does not know; never more than once per
// minInterval, whatever the traffic. When a reload fails the keys already held stay in use.
type jwksSource struct {
	location    string
	isURL       bool
	client      *http.Client
	timeout     time.Duration
	refresh     time.Duration
	minInterval time.Duration
	now         func() time.Time

	fetchMu sync.Mutex // one load at a time

	mu          sync.RWMutex
	keys        []pinnedKey
	fetchedAt   time.Time // last successful load
	attemptedAt time.Time // last load, successful or not
	lastErr     error     // of the last load
}

// load reads the JWKS now, whatever the interval, and reports its error.
func (s *jwksSource) load(ctx context.Context) error {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	return s.loadLocked(ctx)
}

func (s *jwksSource) loadLocked(ctx context.Context) error {
	now := s.now()
	s.mu.Lock()
	s.attemptedAt = now
	s.mu.Unlock()

	keys, err := s.read(ctx)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err
	if err != nil {
		return err
	}
	s.keys, s.fetchedAt = keys, now
	return nil
}

// maybeReload reloads unless a load was attempted less than minInterval ago. With wait false it
// gives up at once when another load is in flight (the caller has usable keys).
func (s *jwksSource) maybeReload(ctx context.Context, wait bool) {
	if wait {
		s.fetchMu.Lock()
	} else if !s.fetchMu.TryLock() {
		return
	}
	defer s.fetchMu.Unlock()
	s.mu.RLock()
	recent := !s.attemptedAt.IsZero() && s.now().Sub(s.attemptedAt) < s.minInterval
	s.mu.RUnlock()
	if recent {
		return
	}
	_ = s.loadLocked(ctx) // the error stays in lastErr; the old keys stay in use
}

func (s *jwksSource) read(ctx context.Context) ([]pinnedKey, error) {
	// A load serves every waiting request: the one that triggered it going away must not cut it short.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	var body io.ReadCloser
	if s.isURL {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.location, nil)
		if err != nil {
			return nil, fmt.Errorf("jwks: %w", err)
		}
		req.Header.Set("Accept", jwksAcceptType)
		resp, err := s.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("jwks: fetch: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			_ = resp.Body.Close()
			return nil, fmt.Errorf("jwks: fetch: status %d", resp.StatusCode)
		}
		body = resp.Body
	} else {
		f, err := os.Open(s.location)
		if err != nil {
			return nil, fmt.Errorf("jwks: %w", err)
		}
		body = f
	}
	defer func() { _ = body.Close() }()
	data, err := io.ReadAll(io.LimitReader(body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: read: %w", err)
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("jwks: larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(data)
}

// lookup returns the keys that may verify a token with this kid (empty: any) and alg, reloading
// the set when it is stale or does not know the kid (within the reload rate limit).
func (s *jwksSource) lookup(ctx context.Context, kid, alg string) ([]any, error) {
	keys, stale := s.snapshot()
	if match, _ := selectKeys(keys, kid, alg); len(match) > 0 {
		if stale {
			s.maybeReload(ctx, false)
		}
		return match, nil
	}
	s.maybeReload(ctx, true)
	keys, _ = s.snapshot()
	match, kidKnown := selectKeys(keys, kid, alg)
	switch {
	case len(match) > 0:
		return match, nil
	case len(keys) == 0:
		s.mu.RLock()
		err := s.lastErr
		s.mu.RUnlock()
		return nil, refuse(ReasonKeysUnavailable, err)
	case kidKnown:
		return nil, refuse(ReasonAlgorithm, fmt.Errorf("key %q is not for %s", kid, alg))
	}
	return nil, refuse(ReasonUnknownKey, fmt.Errorf("no %s key with kid %q", alg, kid))
}

func (s *jwksSource) snapshot() (keys []pinnedKey, stale bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys, s.now().Sub(s.fetchedAt) >= s.refresh
}

// selectKeys returns the keys with this kid (any kid when empty) pinned to alg, and whether a key
// with this kid exists at all.
func selectKeys(keys []pinnedKey, kid, alg string) (match []any, kidKnown bool) {
	for _, k := range keys {
		if kid != "" && k.kid != kid {
			continue
		}
		kidKnown = true
		if k.alg == alg {
			match = append(match, k.key)
		}
	}
	return match, kidKnown && kid != ""
}
