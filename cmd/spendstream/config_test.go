package main

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigEnvTwins(t *testing.T) {
	cases := map[string]struct {
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		"defaults": {
			check: func(t *testing.T, c Config) {
				require.Equal(t, "127.0.0.1:8080", c.HTTPAddr)
				require.Equal(t, 4, c.Streams.Partitions)
				require.Equal(t, 15*time.Minute, c.Consumers.Rules.AllowedLateness)
				require.Equal(t, "127.0.0.1:19000", c.ClickHouse.Addr)
			},
		},
		"env fills unset flags": {
			env: map[string]string{"SPENDSTREAM_HTTP_ADDR": "127.0.0.1:9999", "SPENDSTREAM_PARTITIONS": "8",
				"SPENDSTREAM_ALLOWED_LATENESS": "1h", "SPENDSTREAM_CLICKHOUSE_ADDR": "ch:9000"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, "127.0.0.1:9999", c.HTTPAddr)
				require.Equal(t, 8, c.Streams.Partitions)
				require.Equal(t, 8, c.Consumers.Streams.Partitions, "sub-configs see the shared value")
				require.Equal(t, time.Hour, c.Consumers.Rules.AllowedLateness)
				require.Equal(t, "ch:9000", c.ClickHouse.Addr)
			},
		},
		"flag wins over env": {
			args: []string{"--partitions", "2"},
			env:  map[string]string{"SPENDSTREAM_PARTITIONS": "8"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, 2, c.Streams.Partitions)
			},
		},
		"max future reaches the consumers": {
			args: []string{"--max-future", "30s"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, 30*time.Second, c.Consumers.Rules.Limits.MaxFuture)
			},
		},
		"bad env value names the variable": {
			env:     map[string]string{"SPENDSTREAM_PARTITIONS": "many"},
			wantErr: "SPENDSTREAM_PARTITIONS",
		},
		"instance index out of range": {
			args:    []string{"--instance-index", "2", "--instance-count", "2"},
			wantErr: "instance 2 of 2",
		},
		"more instances than partitions": {
			args:    []string{"--partitions", "2", "--instance-count", "3"},
			wantErr: "3 instances but only 2 partitions",
		},
		"bad database name": {
			args:    []string{"--clickhouse-database", "x; DROP"},
			wantErr: "clickhouse database",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := defaultConfig()
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cfg.register(fs, roles{ingest: true, consume: true, api: true, embedded: true}.groups()...)
			err := parse(fs, c.args, func(k string) string { return c.env[k] })
			if err == nil {
				err = cfg.finish()
			}
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			c.check(t, cfg)
		})
	}
}

func TestEnvName(t *testing.T) {
	require.Equal(t, "SPENDSTREAM_HTTP_ADDR", EnvName("http-addr"))
	require.Equal(t, "SPENDSTREAM_CLICKHOUSE_DATABASE", EnvName("clickhouse-database"))
}

func TestRunUsage(t *testing.T) {
	require.ErrorIs(t, run(t.Context(), nil, func(string) string { return "" }), errUsage)
	require.ErrorIs(t, run(t.Context(), []string{"frobnicate"}, func(string) string { return "" }), errUsage)
}
