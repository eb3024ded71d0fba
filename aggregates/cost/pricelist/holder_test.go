package pricelist

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHolderReloadKeepsOldListOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pricelist.yaml")
	write := func(data []byte) { require.NoError(t, os.WriteFile(path, data, 0o600)) }

	var h Holder
	require.Nil(t, h.Current())

	write(doc(`version: v1`, `currency: USD`))
	require.NoError(t, h.Reload(path))
	v1 := h.Current()
	require.Equal(t, "v1", v1.Version)
	require.Equal(t, path, v1.Source)

	write(doc(`version: v2`, `currency: USD`, `vps_plans:`, `  - {provider: hetzner, plan: cx22, vcpus: 0, memory_mb: 1, monthly_price: 1}`))
	err := h.Reload(path)
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, []Problem{{4, "vps_plans[0].vcpus", `must be a positive whole number, got "0"`}}, verr.Problems)
	require.Same(t, v1, h.Current(), "a bad file keeps the old list")

	require.Error(t, h.Reload(filepath.Join(dir, "missing.yaml")))
	require.Same(t, v1, h.Current(), "a missing file keeps the old list")

	write(doc(`version: v3`, `currency: EUR`))
	require.NoError(t, h.Reload(path))
	require.Equal(t, "v3", h.Current().Version)

	h.Store(v1)
	require.Same(t, v1, h.Current())
	require.Same(t, v1, NewHolder(v1).Current())
}

func TestHolderConcurrentUse(t *testing.T) {
	a, b := mustParse(t, doc(`version: a`, `currency: USD`)), mustParse(t, doc(`version: b`, `currency: USD`))
	h := NewHolder(a)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if i%2 == 0 {
					h.Store(b)
					h.Store(a)
					continue
				}
				v := h.Current().Version
				if v != "a" && v != "b" {
					t.Errorf("version %q", v)
					return
				}
			}
		}()
	}
	wg.Wait()
}
