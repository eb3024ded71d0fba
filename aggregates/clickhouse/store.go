// Package clickhouse is spendstream's only user of clickhouse-go: it applies the embedded schema,
// writes roll-up batches (each one atomic insert block carrying its stream positions) and reads
// roll-ups and progress back. It sticks to the SQL subset that works on ClickHouse 18.16 and current
// servers (native protocol, PrepareBatch with explicit columns, one Send per batch).
package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spendstream/spendstream/schemas/ddl"
)

// Config of the ClickHouse connection.
type Config struct {
	Addr         string // host:port of the native protocol
	Database     string
	Username     string
	Password     string
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	MaxOpenConns int
	// Compression of the native protocol's blocks: "lz4", "none", or "auto" (the default: none to
	// a loopback address, where compressing only costs CPU on both ends; lz4 otherwise).
	Compression string
}

// DefaultConfig is the local default of `make run`.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:19000", Database: "spendstream", Username: "default",
		DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, MaxOpenConns: 8, Compression: "auto"}
}

// compression is the driver setting for c.Compression (validated).
func (c Config) compression() *ch.Compression {
	switch c.Compression {
	case "none":
		return nil
	case "lz4":
		return &ch.Compression{Method: ch.CompressionLZ4}
	}
	if loopback(c.Addr) {
		return nil
	}
	return &ch.Compression{Method: ch.CompressionLZ4}
}

// loopback reports whether addr's host is a loopback address or localhost.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var dbName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Addr == "" {
		return errors.New("clickhouse address is empty")
	}
	if !dbName.MatchString(c.Database) {
		return fmt.Errorf("clickhouse database %q: want an identifier", c.Database)
	}
	switch c.Compression {
	case "", "auto", "lz4", "none":
	default:
		return fmt.Errorf("clickhouse compression %q: want auto, lz4 or none", c.Compression)
	}
	return nil
}

// Store is a ClickHouse connection pool bound to one database.
type Store struct {
	conn driver.Conn
	db   string
	log  *slog.Logger
}

// Open connects lazily (the first call dials).
func Open(cfg Config, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := ch.Open(&ch.Options{
		Addr:            []string{cfg.Addr},
		Auth:            ch.Auth{Database: "default", Username: cfg.Username, Password: cfg.Password},
		DialTimeout:     cfg.DialTimeout,
		ReadTimeout:     cfg.ReadTimeout,
		MaxOpenConns:    cfg.MaxOpenConns,
		MaxIdleConns:    max(2, cfg.MaxOpenConns/2),
		ConnMaxLifetime: time.Hour,
		Compression:     cfg.compression(),
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	return &Store{conn: conn, db: cfg.Database, log: log}, nil
}

// Close closes the pool.
func (s *Store) Close() error { return s.conn.Close() }

// Database is the database name.
func (s *Store) Database() string { return s.db }

// Ping checks the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", err)
	}
	return nil
}

// Migrate creates the database and applies every embedded migration. It is idempotent.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+s.db); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	ms, err := ddl.Migrations(s.db)
	if err != nil {
		return err
	}
	for _, m := range ms {
		for i, stmt := range m.Statements {
			if err := s.conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("migration %s statement %d: %w", m.Name, i+1, err)
			}
		}
		s.log.Debug("migration applied", "migration", m.Name)
	}
	return nil
}

// requiredTables are checked by Ready.
var requiredTables = []string{"rollup_in", "vps_util_5m", "vps_util_1h", "vps_util_1d", "email_volume_1h",
	"email_volume_1d", "inventory_events", "consumer_progress", "zz_consumer_progress_mv"}

// Ready reports an error unless the server answers and the schema is applied.
func (s *Store) Ready(ctx context.Context) error {
	var n uint64
	row := s.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND has(?, name)", s.db, requiredTables)
	if err := row.Scan(&n); err != nil {
		return fmt.Errorf("clickhouse not ready: %w", err)
	}
	if int(n) != len(requiredTables) {
		return fmt.Errorf("clickhouse schema not applied: %d of %d tables", n, len(requiredTables))
	}
	return nil
}

// DropDatabase drops the store's database (tests and `make clean` of throwaway databases).
func (s *Store) DropDatabase(ctx context.Context) error {
	return s.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+s.db)
}
