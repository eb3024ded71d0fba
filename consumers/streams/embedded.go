package streams

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig configures the in-process NATS JetStream server of the embedded default.
type EmbeddedConfig struct {
	Dir       string // data dir; JetStream data lands in Dir/jetstream
	Host      string // default 127.0.0.1
	Port      int    // -1: any free port
	MaxMemory int64
	MaxStore  int64
}

// Embedded is a running in-process NATS server.
type Embedded struct {
	Server *server.Server
	lock   *os.File
}

// StartEmbedded starts an in-process NATS server with JetStream on loopback. It takes a lock file
// in Dir, because nothing else stops two servers from opening the same store and corrupting it.
func StartEmbedded(c EmbeddedConfig) (*Embedded, error) {
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.MaxMemory == 0 {
		c.MaxMemory = 256 << 20
	}
	if c.MaxStore == 0 {
		c.MaxStore = 8 << 30
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("nats data dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(c.Dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("nats lock file: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("nats data dir %s is in use by another process: %w", c.Dir, err)
	}
	s, err := server.NewServer(&server.Options{
		Host: c.Host, Port: c.Port, JetStream: true, StoreDir: c.Dir,
		JetStreamMaxMemory: c.MaxMemory, JetStreamMaxStore: c.MaxStore,
		NoSigs: true, NoLog: true, MaxPayload: 1 << 20,
	})
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("nats server: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		_ = lock.Close()
		return nil, errors.New("embedded nats not ready after 10s")
	}
	return &Embedded{Server: s, lock: lock}, nil
}

// URL is the client URL.
func (e *Embedded) URL() string { return e.Server.ClientURL() }

// Shutdown stops the server and releases the lock.
func (e *Embedded) Shutdown() {
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
	_ = syscall.Flock(int(e.lock.Fd()), syscall.LOCK_UN)
	_ = e.lock.Close()
}
