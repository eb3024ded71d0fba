package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/spendstream/spendstream/schemas/events"
)

// Signing algorithms a Verifier can accept. "none" is never one of them.
const (
	AlgHS256 = "HS256"
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
)

// Defaults and bounds of Config.
const (
	MinSecretBytes         = 32
	DefaultLeeway          = 30 * time.Second
	MaxLeeway              = 5 * time.Minute
	DefaultJWKSRefresh     = 15 * time.Minute
	DefaultJWKSMinInterval = 30 * time.Second
	DefaultJWKSTimeout     = 5 * time.Second
	maxTokenLen            = 8 << 10
	maxSubjectLen          = 256
	maxRolesPerToken       = 16
)

// Config of a Verifier. Issuer and Audience are required, and at least one key source: Secret
// (HS256) or JWKS (RS256, ES256).
type Config struct {
	// Issuer is the required "iss" of every token.
	Issuer string
	// Audience must be one of the token's "aud".
	Audience string
	// Secret is the HS256 key, at least 32 bytes. Empty: HS256 tokens are refused.
	Secret []byte
	// JWKS is the RS256/ES256 public keys: a file path or an http(s) URL. Empty: RS256 and ES256
	// tokens are refused.
	JWKS string
	// Algorithms allowed; default: HS256 when Secret is set, RS256 and ES256 when JWKS is set. Each
	// must have its key source. Each key verifies one algorithm only: the secret HS256, an RSA key
	// RS256, a P-256 key ES256.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat (default 30s, at most 5m).
	Leeway time.Duration
	// JWKSRefresh is the age after which the JWKS is reloaded (default 15m).
	JWKSRefresh time.Duration
	// JWKSMinInterval is the least time between two JWKS loads, however many tokens carry an
	// unknown kid (default 30s).
	JWKSMinInterval time.Duration
	// JWKSTimeout bounds one JWKS load (default 5s).
	JWKSTimeout time.Duration
	// HTTPClient fetches a JWKS URL (default: a client without its own timeout; JWKSTimeout applies).
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if len(c.Algorithms) == 0 {
		if len(c.Secret) > 0 {
			c.Algorithms = append(c.Algorithms, AlgHS256)
		}
		if c.JWKS != "" {
			c.Algorithms = append(c.Algorithms, AlgRS256, AlgES256)
		}
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.JWKSRefresh <= 0 {
		c.JWKSRefresh = DefaultJWKSRefresh
	}
	if c.JWKSMinInterval <= 0 {
		c.JWKSMinInterval = DefaultJWKSMinInterval
	}
	if c.JWKSTimeout <= 0 {
		c.JWKSTimeout = DefaultJWKSTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate checks the configuration (after defaults: an empty Algorithms is derived from the key
// sources).
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.Issuer == "":
		return errors.New("auth: issuer is required")
	case c.Audience == "":
		return errors.New("auth: audience is required")
	case len(c.Secret) == 0 && c.JWKS == "":
		return errors.New("auth: want an HS256 secret or a JWKS")
	case len(c.Secret) > 0 && len(c.Secret) < MinSecretBytes:
		return fmt.Errorf("auth: HS256 secret of %d bytes, want at least %d", len(c.Secret), MinSecretBytes)
	case c.Leeway < 0 || c.Leeway > MaxLeeway:
		return fmt.Errorf("auth: leeway %s, want 0..%s", c.Leeway, MaxLeeway)
	}
	if c.JWKS != "" {
		if _, err := jwksLocation(c.JWKS); err != nil {
			return err
		}
	}
	for _, a := range c.Algorithms {
		switch a {
		case AlgHS256:
			if len(c.Secret) == 0 {
				return errors.New("auth: HS256 allowed but no secret configured")
			}
		case AlgRS256, AlgES256:
			if c.JWKS == "" {
				return fmt.Errorf("auth: %s allowed but no JWKS configured", a)
			}
		default:
			return fmt.Errorf("auth: algorithm %q is not supported (want HS256, RS256 or ES256)", a)
		}
	}
	return nil
}

// jwksLocation reports whether loc is a URL (http or https) rather than a file path.
func jwksLocation(loc string) (isURL bool, err error) {
	if !strings.Contains(loc, "://") {
		return false, nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return false, fmt.Errorf("auth: jwks url: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return false, fmt.Errorf("auth: jwks %q: want a file path or an http(s) URL", loc)
	}
	return true, nil
}

// Verifier checks bearer JWTs. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	parser *jwt.Parser
	jwks   *jwksSource // nil without a JWKS
}

// NewVerifier validates cfg and, with a JWKS, loads it once (an error if that fails: a verifier
// that cannot verify anything is a configuration error).
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	cfg.Secret = slices.Clone(cfg.Secret)
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	v := &Verifier{cfg: cfg}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(),
	)
	if cfg.JWKS != "" {
		isURL, _ := jwksLocation(cfg.JWKS)
		v.jwks = &jwksSource{location: cfg.JWKS, isURL: isURL, client: cfg.HTTPClient, timeout: cfg.JWKSTimeout,
			refresh: cfg.JWKSRefresh, minInterval: cfg.JWKSMinInterval, now: cfg.Now}
		if err := v.jwks.load(ctx); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	return v, nil
}

// tokenClaims are the claims a token carries. roles may be an array or a single string; role is
// a single role, merged with roles.
type tokenClaims struct {
	jwt.RegisteredClaims
	Roles    jwt.ClaimStrings `json:"roles,omitempty"`
	Role     string           `json:"role,omitempty"`
	TenantID string           `json:"tenant_id,omitempty"`
}

// Verify checks token and returns its principal. Every error wraps ErrInvalidCredentials and
// carries a Reason (see ReasonOf). The principal's Scope is always valid: a tenant-scoped role
// comes with a valid tenant id, and a cross-tenant principal's tenant_id claim is dropped.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" || len(token) > maxTokenLen {
		return Principal{}, refuse(ReasonMalformed, fmt.Errorf("token of %d bytes", len(token)))
	}
	var c tokenClaims
	tok, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) { return v.key(ctx, t) })
	if err != nil {
		return Principal{}, v.classify(tok, err)
	}
	return principalOf(&c)
}

// Authenticate verifies the bearer token of r (see FromRequest).
func (v *Verifier) Authenticate(r *http.Request) (Principal, error) {
	tok, ok := FromRequest(r)
	if !ok {
		return Principal{}, refuse(ReasonNoToken, nil)
	}
	return v.Verify(r.Context(), tok)
}

// key returns the key for t, pinned to its algorithm: the secret only ever verifies HS256, JWKS
// keys only the algorithm of their type.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if !slices.Contains(v.cfg.Algorithms, alg) { // WithValidMethods already refused it
		return nil, refuse(ReasonAlgorithm, fmt.Errorf("alg %q not allowed", alg))
	}
	switch alg {
	case AlgHS256:
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok || len(v.cfg.Secret) == 0 {
			return nil, refuse(ReasonAlgorithm, errors.New("no HS256 key"))
		}
		return v.cfg.Secret, nil
	case AlgRS256, AlgES256:
		if v.jwks == nil {
			return nil, refuse(ReasonAlgorithm, fmt.Errorf("no %s keys", alg))
		}
		kid := ""
		if raw, ok := t.Header["kid"]; ok {
			s, ok := raw.(string)
			if !ok {
				return nil, refuse(ReasonMalformed, errors.New("kid is not a string"))
			}
			kid = s
		}
		keys, err := v.jwks.lookup(ctx, kid, alg)
		if err != nil {
			return nil, err
		}
		if len(keys) == 1 {
			return keys[0], nil
		}
		vks := jwt.VerificationKeySet{}
		for _, k := range keys {
			vks.Keys = append(vks.Keys, k)
		}
		return vks, nil
	}
	return nil, refuse(ReasonAlgorithm, fmt.Errorf("alg %q not supported", alg))
}

// classify turns a jwt error into a CredentialError with its Reason.
func (v *Verifier) classify(tok *jwt.Token, err error) error {
	var ce *CredentialError
	if errors.As(err, &ce) { // from key
		return ce
	}
	r := ReasonMalformed
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		r = ReasonMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		r = ReasonAlgorithm // an alg the library does not know
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		r = ReasonBadSignature
		if tok != nil && tok.Method != nil && !slices.Contains(v.cfg.Algorithms, tok.Method.Alg()) {
			r = ReasonAlgorithm
		}
	case errors.Is(err, jwt.ErrTokenExpired):
		r = ReasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		r = ReasonNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		r = ReasonWrongIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		r = ReasonWrongAudience
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		r = ReasonMissingClaim
	}
	return refuse(r, err)
}

// principalOf checks what the library does not: sub, the order of the times, the roles and the
// tenant.
func principalOf(c *tokenClaims) (Principal, error) {
	if c.Subject == "" {
		return Principal{}, refuse(ReasonMissingClaim, errors.New("no sub"))
	}
	if len(c.Subject) > maxSubjectLen {
		return Principal{}, refuse(ReasonMalformed, errors.New("sub too long"))
	}
	if exp := c.ExpiresAt; exp != nil {
		if c.NotBefore != nil && c.NotBefore.After(exp.Time) {
			return Principal{}, refuse(ReasonBadTimes, errors.New("nbf after exp"))
		}
		if c.IssuedAt != nil && c.IssuedAt.After(exp.Time) {
			return Principal{}, refuse(ReasonBadTimes, errors.New("iat after exp"))
		}
	}
	names := []string(c.Roles)
	if c.Role != "" {
		names = append(names, c.Role)
	}
	if len(names) > maxRolesPerToken {
		return Principal{}, refuse(ReasonMalformed, fmt.Errorf("%d roles", len(names)))
	}
	var roles []Role
	for _, n := range names {
		r, err := ParseRole(n)
		if err != nil {
			return Principal{}, refuse(ReasonUnknownRole, err)
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	if len(roles) == 0 {
		return Principal{}, refuse(ReasonNoRole, nil)
	}
	kind, ok := scopeKind(roles)
	if !ok {
		return Principal{}, refuse(ReasonMixedRoles, nil)
	}
	p := Principal{Subject: c.Subject, Roles: roles}
	if kind == kindTenant {
		switch {
		case c.TenantID == "":
			return Principal{}, refuse(ReasonMissingTenant, nil)
		case !events.ValidTenant(c.TenantID):
			return Principal{}, refuse(ReasonInvalidTenant, nil)
		}
		p.TenantID = c.TenantID
	}
	return p, nil
}

// FromRequest returns the token of r's Authorization header. It accepts exactly one header of the
// form "Bearer <token>" (scheme case-insensitive, one space, a token68 of at most 8 KiB) and
// nothing else: no other scheme, no extra words, no empty token.
func FromRequest(r *http.Request) (string, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !isToken68(tok) {
		return "", false
	}
	return tok, true
}

// isToken68 reports whether s matches RFC 7235's token68: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
// / "+" / "/" ) *"=".
func isToken68(s string) bool {
	if len(s) > maxTokenLen {
		return false
	}
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
