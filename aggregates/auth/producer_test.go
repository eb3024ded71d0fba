package auth

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProducerKeysAuthorize(t *testing.T) {
	keys, err := NewProducerKeys([]ProducerKeyConfig{
		{Key: "spk_all_tenants_key_0001", Name: "billing-agent", Tenants: []string{"*"}},
		{Key: "spk_acme_only_key_000002", Name: "acme-agent", Tenants: []string{"acme", "acme-eu", "acme"}},
	})
	require.NoError(t, err)
	require.Equal(t, 2, keys.Len())
	assert.False(t, keys.HasDemoKey())

	tests := map[string]struct {
		header     string
		want       Producer
		wantReason Reason
	}{
		"all-tenant key":        {header: "Bearer spk_all_tenants_key_0001", want: Producer{Name: "billing-agent", AllTenants: true}},
		"tenant-scoped key":     {header: "Bearer spk_acme_only_key_000002", want: Producer{Name: "acme-agent", Tenants: []string{"acme", "acme-eu"}}},
		"wrong key":             {header: "Bearer spk_acme_only_key_000003", wantReason: ReasonUnknownProducer},
		"prefix of a key":       {header: "Bearer spk_acme_only_key", wantReason: ReasonUnknownProducer},
		"no header":             {wantReason: ReasonNoToken},
		"basic":                 {header: "Basic spk_all_tenants_key_0001", wantReason: ReasonNoToken},
		"bearer with two words": {header: "Bearer spk_all_tenants_key_0001 x", wantReason: ReasonNoToken},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/events", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			p, err := keys.Authorize(r)
			if tc.wantReason != "" {
				assert.ErrorIs(t, err, ErrInvalidCredentials)
				assert.Equal(t, tc.wantReason, ReasonOf(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, p)
		})
	}
	t.Run("zero value knows no key", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/v1/events", nil)
		r.Header.Set("Authorization", "Bearer spk_all_tenants_key_0001")
		_, err := ProducerKeys{}.Authorize(r)
		assert.Equal(t, ReasonUnknownProducer, ReasonOf(err))
	})
}

func TestProducerMayWrite(t *testing.T) {
	all := Producer{Name: "a", AllTenants: true}
	acme := Producer{Name: "b", Tenants: []string{"acme", "acme-eu"}}
	tests := map[string]struct {
		p      Producer
		tenant string
		want   bool
	}{
		"* any tenant":       {p: all, tenant: "globex", want: true},
		"* invalid tenant":   {p: all, tenant: "a b"},
		"* empty tenant":     {p: all, tenant: ""},
		"* the literal *":    {p: all, tenant: "*"},
		"listed":             {p: acme, tenant: "acme-eu", want: true},
		"not listed":         {p: acme, tenant: "globex"},
		"prefix of a listed": {p: acme, tenant: "acm"},
		"case differs":       {p: acme, tenant: "ACME"},
		"zero producer":      {p: Producer{}, tenant: "acme"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { assert.Equal(t, tc.want, tc.p.MayWrite(tc.tenant)) })
	}
}

func TestNewProducerKeysRefuses(t *testing.T) {
	good := ProducerKeyConfig{Key: "spk_good_key_00000001", Name: "good", Tenants: []string{"*"}}
	tests := map[string][]ProducerKeyConfig{
		"short key":         {{Key: "short", Name: "a", Tenants: []string{"*"}}},
		"key with a space":  {{Key: "spk_bad key_0000000001", Name: "a", Tenants: []string{"*"}}},
		"no name":           {{Key: "spk_good_key_00000002", Tenants: []string{"*"}}},
		"name with a space": {{Key: "spk_good_key_00000002", Name: "a b", Tenants: []string{"*"}}},
		"no tenants":        {{Key: "spk_good_key_00000002", Name: "a"}},
		"* mixed":           {{Key: "spk_good_key_00000002", Name: "a", Tenants: []string{"*", "acme"}}},
		"bad tenant":        {{Key: "spk_good_key_00000002", Name: "a", Tenants: []string{"acme;drop"}}},
		"duplicate name":    {good, {Key: "spk_good_key_00000002", Name: "good", Tenants: []string{"*"}}},
		"duplicate key":     {good, {Key: good.Key, Name: "other", Tenants: []string{"*"}}},
	}
	for name, entries := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewProducerKeys(entries)
			require.Error(t, err)
		})
	}
}

func TestParseProducerKeys(t *testing.T) {
	k, err := ParseProducerKeys([]byte(`
producers:
  - {key: "spk_spendstream_demo", name: demo, tenants: ["*"]}
  - {key: "spk_acme_only_key_000002", name: acme-agent, tenants: [acme]}
`))
	require.NoError(t, err)
	assert.Equal(t, 2, k.Len())
	assert.True(t, k.HasDemoKey())

	_, err = ParseProducerKeys([]byte(`{"producers":[{"key":"spk_acme_only_key_000002","name":"a","tenants":["acme"],"admin":true}]}`))
	require.ErrorContains(t, err, "admin")

	demo := DemoProducerKeys()
	assert.True(t, demo.HasDemoKey())
	r := httptest.NewRequest("POST", "/v1/events", nil)
	r.Header.Set("Authorization", "Bearer "+DemoProducerKey)
	p, err := demo.Authorize(r)
	require.NoError(t, err)
	assert.True(t, p.MayWrite("any-tenant"))
}

func TestRefuseDemoOnPublic(t *testing.T) {
	tests := map[string]struct {
		addr    string
		refused bool
	}{
		"127.0.0.1:8080":     {addr: "127.0.0.1:8080"},
		"127.1.2.3:8080":     {addr: "127.1.2.3:8080"},
		"localhost:8080":     {addr: "localhost:8080"},
		"LOCALHOST:8080":     {addr: "LOCALHOST:8080"},
		"[::1]:8080":         {addr: "[::1]:8080"},
		"::ffff:127.0.0.1":   {addr: "[::ffff:127.0.0.1]:8080"},
		"localhost, no port": {addr: "localhost"},
		":8080":              {addr: ":8080", refused: true},
		"0.0.0.0:8080":       {addr: "0.0.0.0:8080", refused: true},
		"[::]:8080":          {addr: "[::]:8080", refused: true},
		"10.0.0.5:8080":      {addr: "10.0.0.5:8080", refused: true},
		"128.0.0.1:8080":     {addr: "128.0.0.1:8080", refused: true},
		"hostname":           {addr: "api.internal:8080", refused: true},
		"localhost.evil":     {addr: "localhost.evil.test:8080", refused: true},
		"empty":              {addr: "", refused: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, demo := range [][2]bool{{true, false}, {false, true}, {true, true}} {
				err := RefuseDemoOnPublic(tc.addr, demo[0], demo[1])
				if tc.refused {
					require.ErrorIs(t, err, ErrDemoOnPublic)
				} else {
					require.NoError(t, err)
				}
			}
			require.NoError(t, RefuseDemoOnPublic(tc.addr, false, false), "no demo credentials: any address")
		})
	}
	assert.GreaterOrEqual(t, len(DemoSecret), MinSecretBytes)
	assert.True(t, UsesDemoSecret([]byte(DemoSecret)))
	assert.False(t, UsesDemoSecret(testSecret))
	assert.True(t, IsDemoProjectKey(DemoProjectKeyPrefix+"_acme"))
	assert.False(t, IsDemoProjectKey("phc_real"))
}
