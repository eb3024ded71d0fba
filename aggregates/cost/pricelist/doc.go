// Package pricelist loads, validates and looks up the versioned price list the cost model prices
// resources with: VPS plans, dedicated sending IPs, email providers and commitment discounts, each
// effective-dated so that a past window is costed with the prices in force then.
//
// It is pure apart from Load, which reads one file. It does no cost math beyond exact Money
// arithmetic (amortization, ratios); attribution and savings belong to the cost model.
//
// # File format
//
// A price list is one YAML document (deploy/pricelist.example.yaml is a complete example):
//
//	version: "2026-11-01"     # required, free text, reported with every cost computed from the list
//	currency: USD             # required, 3 upper-case letters (ISO 4217); every amount is in it
//	vps_plans:                # monthly price per provider + plan
//	  - provider: hetzner
//	    plan: cx22
//	    vcpus: 2
//	    memory_mb: 4096
//	    monthly_price: "4.59"
//	    effective_from: 2026-01-01
//	ip_prices:                # monthly price of one dedicated sending IP per provider
//	  - provider: sendgrid
//	    monthly_price: "30"
//	email_providers:          # per email provider
//	  - provider: ses
//	    per_thousand: "0.10"  # price per 1,000 messages sent
//	    monthly_base_fee: "0" # optional (default 0): fixed monthly fee, amortized like a resource
//	commitments:              # commitment (reserved) discounts
//	  - provider: hetzner
//	    resource_kind: vps    # vps | ip
//	    term_months: 12
//	    discount: "0.20"      # fraction off the on-demand monthly price, 0 ≤ discount < 1
//
// All four lists are optional. Rules:
//
//   - Amounts (monthly_price, per_thousand, monthly_base_fee) are decimals, quoted or not, parsed
//     exactly from their text (never through float64) into Money (micro-units): at most 6
//     decimal places, no exponent, not negative, at most MaxPrice.
//   - vcpus, memory_mb and term_months are positive whole numbers; provider and plan are non-empty
//     and matched exactly (case-sensitive) against inventory events.
//   - effective_from is optional and means "from this instant on"; absent means since forever.
//     It is a date (2026-01-01, midnight UTC) or an RFC 3339 time (2026-01-01T06:00:00+02:00);
//     all times are held in UTC. An entry is in force from its effective_from until the next
//     effective_from of the same key; before a key's first effective_from there is no price.
//   - Keys are: provider + plan (vps_plans), provider (ip_prices, email_providers) and provider +
//     resource_kind + term_months (commitments). Two entries of one key must have distinct
//     effective_from values.
//   - A commitment needs a price of its kind (vps_plans or ip_prices) for its provider.
//   - Unknown keys, duplicate keys, YAML aliases and more than one document are refused.
//
// A file with problems is refused as a whole: Parse returns a *ValidationError listing every
// problem found as "line N: path: message", in line order, e.g.
//
//	line 7: vps_plans[0].monthly_price: must not be negative, got -1
//
// Holder keeps the current list for concurrent readers and replaces it only with a valid one.
//
// # Money and amortization
//
// Money is an int64 count of micro-units (1e-6 of the currency). A monthly price is amortized over
// a duration d as price × d / HoursPerMonth hours (730 h, AWS's convention), on exact integer
// arithmetic with a 128-bit intermediate, rounded half away from zero to the micro-unit (see
// Money.Amortize and Money.MulDiv).
package pricelist
