package main
import (
 _ "github.com/nats-io/nats-server/v2/server"
 _ "github.com/nats-io/nats.go/jetstream"
 _ "github.com/ThreeDotsLabs/watermill"
 _ "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
 _ "github.com/ClickHouse/clickhouse-go/v2"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/stretchr/testify/require"
 _ "golang.org/x/sync/errgroup"
 _ "github.com/google/uuid"
)
func main(){}
