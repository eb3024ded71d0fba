// Command spendstream is the event-driven cost and utilization aggregator. One binary, several roles:
//
//	spendstream run       everything in one process on the embedded default (in-process NATS)
//	spendstream ingest    HTTP gateway: POST /v1/events → JetStream
//	spendstream consume   Watermill consumers: JetStream → ClickHouse roll-ups
//	spendstream api       query API over the roll-ups
//	spendstream migrate   apply the ClickHouse schema and exit
//	spendstream generate  seeded demo/load generator publishing events
//	spendstream token     mint a local API token (HS256) for a role
//
// Every flag has an environment twin SPENDSTREAM_<FLAG> (see -h of each subcommand).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "spendstream:", err)
		os.Exit(1)
	}
	if err != nil {
		os.Exit(2)
	}
}

var errUsage = errors.New("usage")

const usage = `usage: spendstream <command> [flags]

commands:
  run        everything in one process: embedded NATS JetStream, consumers, ingest, API (and --demo)
  ingest     HTTP gateway for producers (POST /v1/events)
  consume    roll-up consumers (JetStream -> ClickHouse); scale out with --instance-index/--instance-count
  api        query API over the roll-ups
  migrate    apply the ClickHouse schema and exit
  generate   publish seeded demo or load events
  check-price-list FILE   validate a price list, printing each problem with its line
  token      print a local API token: token --role cfo|coo|procurement|ops|tenant_admin [--tenant ID] [--ttl 12h]

Run "spendstream <command> -h" for its flags. Every flag has an env twin SPENDSTREAM_<FLAG_NAME>.
`

func run(ctx context.Context, args []string, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdServe(ctx, rest, getenv, roles{ingest: true, consume: true, api: true, embedded: true})
	case "ingest":
		return cmdServe(ctx, rest, getenv, roles{ingest: true})
	case "consume":
		return cmdServe(ctx, rest, getenv, roles{consume: true})
	case "api":
		return cmdServe(ctx, rest, getenv, roles{api: true})
	case "migrate":
		return cmdMigrate(ctx, rest, getenv)
	case "generate":
		return cmdGenerate(ctx, rest, getenv)
	case "token":
		return cmdToken(rest, getenv)
	case "check-price-list":
		if len(rest) != 1 {
			return fmt.Errorf("usage: spendstream check-price-list FILE")
		}
		return checkPriceList(rest[0])
	case "help", "-h", "--help":
		fmt.Fprint(os.Stdout, usage)
		return nil
	}
	fmt.Fprintf(os.Stderr, "spendstream: unknown command %q\n\n%s", cmd, usage)
	return errUsage
}
