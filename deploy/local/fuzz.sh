#!/usr/bin/env bash
# Runs every Go fuzzer of the project for a while each (their seed corpora already run in every
# `go test`). `make test` runs it briefly (10 s each, as CI's short fuzzing run); `make fuzz` for
# longer. A failure leaves the crashing input under the package's testdata/fuzz/ — commit it as a
# regression seed once fixed.
#
#   deploy/local/fuzz.sh [FUZZTIME]   # FUZZTIME as go test -fuzztime takes it (default 10s)
set -euo pipefail
cd "$(dirname "$0")/../.."
t=${1:-10s}
while read -r fn pkg; do
  echo "fuzz: $fn in $pkg for $t"
  # The progress lines ("fuzz: elapsed: …") are dropped; everything else, failures included, shows.
  go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" -fuzzminimizetime 5s "$pkg" 2>&1 | { grep -vE '^fuzz: elapsed' || true; } || {
    echo "fuzz: $fn in $pkg failed"; exit 1; }
done <<'LIST'
FuzzDecode ./schemas/events/
FuzzScanFast ./schemas/events/
FuzzParseShortDecimal ./schemas/events/
FuzzDecode ./schemas/posthog/
FuzzSplit ./schemas/posthog/
FuzzFastDecodeEncode ./schemas/posthog/
FuzzEncodeRecord ./schemas/posthog/
FuzzDeriveUUID ./schemas/posthog/
FuzzParseRollupQuery ./aggregates/api/
FuzzParse ./aggregates/cost/pricelist/
FuzzCompute ./aggregates/cost/
FuzzVerify ./aggregates/auth/
LIST
