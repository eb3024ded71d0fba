package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/spendstream/spendstream/aggregates/auth"
)

// AuthConfig configures authentication: JWTs for the query API, producer keys for ingest.
type AuthConfig struct {
	// LocalDemo turns on the local default credentials (demo HS256 secret, producer key
	// spk_spendstream_demo, PostHog project keys phc_spendstream_demo*); spendstream refuses to
	// start with them on a non-loopback address. On by default for `run`.
	LocalDemo bool

	Issuer, Audience string
	Secret           string // HS256
	JWKS             string // file or URL (RS256/ES256)
	Leeway           time.Duration
	RolesFile        string // role × capability overrides (YAML)
	ProducerKeysFile string // YAML list of {key, name, tenants}
	RateLimit        float64
	RateBurst        int
}

// Defaults of the local config (and the token command).
const (
	defaultIssuer   = "spendstream"
	defaultAudience = "spendstream-api"
)

func (c *AuthConfig) register(fs *flag.FlagSet, has map[string]bool) {
	if has["api"] || has["ingest"] || has["token"] {
		fs.BoolVar(&c.LocalDemo, "local-demo-auth", c.LocalDemo, "use the local demo credentials (demo secret and keys; loopback only)")
	}
	if has["api"] || has["token"] {
		fs.StringVar(&c.Issuer, "auth-issuer", defaultIssuer, "JWT issuer (iss) the API accepts")
		fs.StringVar(&c.Audience, "auth-audience", defaultAudience, "JWT audience (aud) the API accepts")
		fs.StringVar(&c.Secret, "auth-secret", "", "HS256 secret (32+ bytes) for API tokens; prefer the env twin SPENDSTREAM_AUTH_SECRET")
	}
	if has["api"] {
		fs.StringVar(&c.JWKS, "auth-jwks", "", "JWKS file or URL with RS256/ES256 keys of an identity provider")
		fs.DurationVar(&c.Leeway, "auth-leeway", auth.DefaultLeeway, "allowed clock skew for exp/nbf/iat (max 5m)")
		fs.StringVar(&c.RolesFile, "roles-file", "", "YAML overrides of what each role may do (default matrix: see README)")
		fs.Float64Var(&c.RateLimit, "rate-limit", 50, "requests per second per caller (API subject or producer key)")
		fs.IntVar(&c.RateBurst, "rate-burst", 100, "burst of requests per caller")
	}
	if has["ingest"] {
		fs.StringVar(&c.ProducerKeysFile, "producer-keys-file", "", "YAML list of producer keys {key, name, tenants} for POST /v1/events")
		if !has["api"] {
			fs.Float64Var(&c.RateLimit, "rate-limit", 50, "requests per second per producer key")
			fs.IntVar(&c.RateBurst, "rate-burst", 100, "burst of requests per producer key")
		}
	}
}

// secret is the HS256 secret in force: the configured one, or the demo secret with LocalDemo.
func (c *AuthConfig) secret() []byte {
	if c.Secret != "" {
		return []byte(c.Secret)
	}
	if c.LocalDemo {
		return []byte(auth.DemoSecret)
	}
	return nil
}

// verifier builds the API's token verifier and role matrix.
func (c *AuthConfig) verifier(ctx context.Context) (*auth.Verifier, *auth.Matrix, error) {
	vc := auth.Config{Issuer: c.Issuer, Audience: c.Audience, Secret: c.secret(), JWKS: c.JWKS, Leeway: c.Leeway}
	if len(vc.Secret) == 0 && vc.JWKS == "" {
		return nil, nil, errors.New("the API needs --auth-secret (HS256) or --auth-jwks (RS256/ES256), or --local-demo-auth on loopback")
	}
	v, err := auth.NewVerifier(ctx, vc)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: %w", err)
	}
	m := auth.DefaultMatrix()
	if c.RolesFile != "" {
		b, err := os.ReadFile(c.RolesFile)
		if err != nil {
			return nil, nil, fmt.Errorf("roles file: %w", err)
		}
		if m, err = auth.ParseMatrix(b); err != nil {
			return nil, nil, fmt.Errorf("roles file %s: %w", c.RolesFile, err)
		}
	}
	return v, &m, nil
}

// producerKeys builds the ingest key set: the keys file (format of auth.ParseProducerKeys), plus
// the demo key with LocalDemo.
func (c *AuthConfig) producerKeys() (auth.ProducerKeys, error) {
	var f struct {
		Producers []auth.ProducerKeyConfig `yaml:"producers"`
	}
	if c.ProducerKeysFile != "" {
		b, err := os.ReadFile(c.ProducerKeysFile)
		if err != nil {
			return auth.ProducerKeys{}, fmt.Errorf("producer keys: %w", err)
		}
		if _, err := auth.ParseProducerKeys(b); err != nil { // the strict check, with its messages
			return auth.ProducerKeys{}, fmt.Errorf("producer keys %s: %w", c.ProducerKeysFile, err)
		}
		if err := yaml.Unmarshal(b, &f); err != nil {
			return auth.ProducerKeys{}, fmt.Errorf("producer keys %s: %w", c.ProducerKeysFile, err)
		}
	}
	if c.LocalDemo {
		f.Producers = append(f.Producers, auth.ProducerKeyConfig{Key: auth.DemoProducerKey, Name: "demo", Tenants: []string{auth.AllTenants}})
	}
	return auth.NewProducerKeys(f.Producers)
}

// limiter is the per-caller request limiter (nil when the limit is off).
func (c *AuthConfig) limiter() (*auth.Limiter, error) {
	if c.RateLimit <= 0 {
		return nil, nil
	}
	return auth.NewLimiter(auth.LimiterConfig{Rate: c.RateLimit, Burst: max(c.RateBurst, 1)})
}

// refuseDemoOnPublic stops a process that would serve the demo credentials beyond loopback.
func (c *AuthConfig) refuseDemoOnPublic(addrs ...string) error {
	usesSecret := auth.UsesDemoSecret(c.secret())
	for _, a := range addrs {
		if a == "" {
			continue
		}
		if err := auth.RefuseDemoOnPublic(a, usesSecret, c.LocalDemo); err != nil {
			return err
		}
	}
	return nil
}

// cmdToken is `spendstream token --role ROLE [--tenant ID] [--ttl DURATION]`: it prints a token
// signed with the configured HS256 secret (the local demo secret by default, so tokens work
// against `make run`).
func cmdToken(args []string, getenv func(string) string) error {
	var c AuthConfig
	c.LocalDemo = true
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	c.register(fs, map[string]bool{"token": true})
	role := fs.String("role", "", "role: "+roleNames())
	tenant := fs.String("tenant", "", "tenant id (tenant_admin)")
	subject := fs.String("subject", "", "subject (default: local-<role>)")
	ttl := fs.Duration("ttl", 12*time.Hour, "token lifetime (max 720h)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("--role: %w (want one of %s)", err, roleNames())
	}
	sub := *subject
	if sub == "" {
		sub = "local-" + string(r)
	}
	tok, err := auth.MintHS256(c.secret(), c.Issuer, c.Audience, sub, []auth.Role{r}, *tenant, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

func roleNames() string {
	var names []string
	for _, r := range auth.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

// demoTokens mints one local token per role for the banner of `make run`.
func demoTokens(c AuthConfig, tenant string) []string {
	var out []string
	for _, r := range auth.Roles() {
		t := ""
		if r.TenantScoped() {
			t = tenant
		}
		tok, err := auth.MintHS256(c.secret(), c.Issuer, c.Audience, "demo-"+string(r), []auth.Role{r}, t, 12*time.Hour, time.Now())
		if err != nil {
			continue
		}
		label := string(r)
		if t != "" {
			label += " (" + t + ")"
		}
		out = append(out, fmt.Sprintf("  %-26s %s", label, tok))
	}
	return out
}
