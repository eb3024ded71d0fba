package clickhouse

import (
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/assert"
)

func TestCompressionSetting(t *testing.T) {
	lz4 := &ch.Compression{Method: ch.CompressionLZ4}
	tests := []struct {
		addr, setting string
		want          *ch.Compression
	}{
		{"127.0.0.1:19000", "auto", nil},
		{"127.0.0.1:19000", "", nil},
		{"localhost:9000", "auto", nil},
		{"[::1]:9000", "auto", nil},
		{"127.8.9.10:9000", "auto", nil},
		{"10.0.0.5:9000", "auto", lz4},
		{"clickhouse.internal:9000", "auto", lz4},
		{"127.0.0.1:19000", "lz4", lz4},
		{"10.0.0.5:9000", "none", nil},
	}
	for _, tt := range tests {
		t.Run(tt.addr+"/"+tt.setting, func(t *testing.T) {
			c := DefaultConfig()
			c.Addr, c.Compression = tt.addr, tt.setting
			assert.NoError(t, c.Validate())
			assert.Equal(t, tt.want, c.compression())
		})
	}
	c := DefaultConfig()
	c.Compression = "zstd"
	assert.ErrorContains(t, c.Validate(), "want auto, lz4 or none")
}
