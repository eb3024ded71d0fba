package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/spendstream/spendstream/schemas/events"
)

// AllTenants in a producer's tenant list lets it write for every tenant.
const AllTenants = "*"

const (
	minProducerKeyLen = 16
	maxProducerKeyLen = 256
	maxProducerName   = 64
)

// ProducerKeyConfig is one producer key of the configuration: the key itself (sent as
// "Authorization: Bearer <key>"), a name for logs and audit, and the tenants it may write for
// (["*"] for all).
type ProducerKeyConfig struct {
	Key     string   `yaml:"key" json:"key"`
	Name    string   `yaml:"name" json:"name"`
	Tenants []string `yaml:"tenants" json:"tenants"`
}

// Producer is an authenticated event producer.
type Producer struct {
	Name       string
	AllTenants bool     // may write for every tenant
	Tenants    []string // otherwise: the tenants it may write for
}

// MayWrite reports whether p may write events for tenant (a valid tenant id).
func (p Producer) MayWrite(tenant string) bool {
	if !events.ValidTenant(tenant) {
		return false
	}
	return p.AllTenants || slices.Contains(p.Tenants, tenant)
}

type producerEntry struct {
	hash [sha256.Size]byte
	p    Producer
}

// ProducerKeys authenticates producers. It keeps only the SHA-256 of each key and compares hashes
// in constant time, against every entry. The zero value knows no key. Safe for concurrent use.
type ProducerKeys struct {
	entries []producerEntry
}

// NewProducerKeys checks entries: each key 16..256 characters of token68 (what a bearer token may
// hold), unique; each name 1..64 characters of [A-Za-z0-9_.-], unique; each tenant list either
// ["*"] or valid tenant ids, never empty.
func NewProducerKeys(entries []ProducerKeyConfig) (ProducerKeys, error) {
	var k ProducerKeys
	names := map[string]bool{}
	for i, e := range entries {
		if len(e.Key) < minProducerKeyLen || len(e.Key) > maxProducerKeyLen || !isToken68(e.Key) {
			return ProducerKeys{}, fmt.Errorf("producer key %d (%q): key must be %d..%d characters of [A-Za-z0-9._~+/-]",
				i, e.Name, minProducerKeyLen, maxProducerKeyLen)
		}
		if !validName(e.Name) {
			return ProducerKeys{}, fmt.Errorf("producer key %d: name %q must be 1..%d characters of [A-Za-z0-9_.-]",
				i, e.Name, maxProducerName)
		}
		if names[e.Name] {
			return ProducerKeys{}, fmt.Errorf("producer key %d: name %q used twice", i, e.Name)
		}
		names[e.Name] = true
		p := Producer{Name: e.Name}
		switch {
		case len(e.Tenants) == 0:
			return ProducerKeys{}, fmt.Errorf("producer %q: no tenants (want [\"*\"] or a list)", e.Name)
		case slices.Contains(e.Tenants, AllTenants):
			if len(e.Tenants) != 1 {
				return ProducerKeys{}, fmt.Errorf("producer %q: \"*\" cannot be mixed with tenant ids", e.Name)
			}
			p.AllTenants = true
		default:
			for _, t := range e.Tenants {
				if !events.ValidTenant(t) {
					return ProducerKeys{}, fmt.Errorf("producer %q: tenant %q is not a valid tenant id", e.Name, t)
				}
				if !slices.Contains(p.Tenants, t) {
					p.Tenants = append(p.Tenants, t)
				}
			}
		}
		h := sha256.Sum256([]byte(e.Key))
		for _, prev := range k.entries {
			if prev.hash == h {
				return ProducerKeys{}, fmt.Errorf("producer %q: same key as producer %q", e.Name, prev.p.Name)
			}
		}
		k.entries = append(k.entries, producerEntry{hash: h, p: p})
	}
	return k, nil
}

func validName(s string) bool {
	if s == "" || len(s) > maxProducerName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// ParseProducerKeys reads producer keys from YAML (or JSON):
//
//	producers:
//	  - {key: "spk_...", name: billing-agent, tenants: ["*"]}
//	  - {key: "spk_...", name: acme-agent, tenants: [acme]}
//
// Unknown fields are errors.
func ParseProducerKeys(data []byte) (ProducerKeys, error) {
	var f struct {
		Producers []ProducerKeyConfig `yaml:"producers"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return ProducerKeys{}, fmt.Errorf("producer keys: %w", err)
	}
	return NewProducerKeys(f.Producers)
}

// DemoProducerKeys returns the local default: DemoProducerKey, named "demo", for all tenants.
func DemoProducerKeys() ProducerKeys {
	k, err := NewProducerKeys([]ProducerKeyConfig{{Key: DemoProducerKey, Name: "demo", Tenants: []string{AllTenants}}})
	if err != nil {
		panic(err) // the constants are valid
	}
	return k
}

// Len returns the number of keys.
func (k ProducerKeys) Len() int { return len(k.entries) }

// HasDemoKey reports whether DemoProducerKey is one of the keys.
func (k ProducerKeys) HasDemoKey() bool {
	h := sha256.Sum256([]byte(DemoProducerKey))
	for _, e := range k.entries {
		if e.hash == h {
			return true
		}
	}
	return false
}

// Authorize returns the producer whose key r carries as "Authorization: Bearer <key>". The error
// wraps ErrInvalidCredentials (Reason no_token or unknown_producer); answer it with a 401 that does
// not say which.
func (k ProducerKeys) Authorize(r *http.Request) (Producer, error) {
	key, ok := FromRequest(r)
	if !ok {
		return Producer{}, refuse(ReasonNoToken, nil)
	}
	h := sha256.Sum256([]byte(key))
	found := -1
	for i, e := range k.entries { // no early exit: the time taken does not depend on which key matched
		if subtle.ConstantTimeCompare(h[:], e.hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Producer{}, refuse(ReasonUnknownProducer, nil)
	}
	p := k.entries[found].p
	p.Tenants = slices.Clone(p.Tenants)
	return p, nil
}
