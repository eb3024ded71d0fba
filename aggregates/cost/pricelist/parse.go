package pricelist

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest file Load reads, in bytes.
const MaxFileSize = 8 << 20

// MaxPrice is the largest price or fee a price list may hold (one billion currency units). It
// keeps every amortization of a listed price over any time.Duration inside Money's range.
const MaxPrice Money = 1_000_000_000 * Unit

// Problem is one thing wrong in a price list file.
type Problem struct {
	Line    int    // 1-based line in the file; 0 when the YAML parser gave none
	Path    string // where in the document, e.g. "vps_plans[2].monthly_price"; empty for the whole file
	Message string
}

// String returns "line N: path: message" (the parts that are known).
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError is the error of Parse and Load for a file that is not a valid price list. It
// lists every problem found, in line order.
type ValidationError struct {
	Problems []Problem
}

// Error lists every problem, one per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("invalid price list: 1 problem")
	} else {
		fmt.Fprintf(&b, "invalid price list: %d problems", len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n" + p.String())
	}
	return b.String()
}

// Load reads and parses the price list file at path (see Parse). The returned list's Source is
// path. Files larger than MaxFileSize are refused.
func Load(path string) (*PriceList, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load price list: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load price list %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("load price list %s: larger than %d bytes", path, MaxFileSize)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load price list %s: %w", path, err)
	}
	p.Source = path
	return p, nil
}

// Parse parses and validates a price list (the format is in the package documentation). On any
// problem it returns a *ValidationError listing all of them, and no list.
func Parse(data []byte) (*PriceList, error) {
	ps := &parser{paths: map[int]string{}}
	pl := ps.parse(data)
	if len(ps.problems) > 0 {
		slices.SortStableFunc(ps.problems, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
		return nil, &ValidationError{Problems: ps.problems}
	}
	return pl, nil
}

// parser collects problems while walking the YAML node tree.
type parser struct {
	problems []Problem
	paths    map[int]string // line of a list entry → its path, e.g. "vps_plans[2]"
}

func (ps *parser) addf(line int, path, format string, args ...any) {
	ps.problems = append(ps.problems, Problem{Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

// Keys of the format.
var (
	topKeys        = []string{"version", "currency", "vps_plans", "ip_prices", "email_providers", "commitments"}
	vpsKeys        = []string{"provider", "plan", "vcpus", "memory_mb", "monthly_price", "effective_from"}
	ipKeys         = []string{"provider", "monthly_price", "effective_from"}
	emailKeys      = []string{"provider", "per_thousand", "monthly_base_fee", "effective_from"}
	commitmentKeys = []string{"provider", "resource_kind", "term_months", "discount", "effective_from"}
)

var (
	yamlLineRE      = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnchorRE = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

// lineOf returns the 1-based line of the first occurrence of s in data, or 0.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// decodeDocument decodes the single YAML document of data, turning a panic of the YAML library
// into a problem.
func (ps *parser) decodeDocument(data []byte) (root *yaml.Node) {
	defer func() {
		if v := recover(); v != nil {
			ps.addf(0, "", "cannot parse YAML: %v", v)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			ps.addf(1, "", "the price list is empty")
		} else {
			ps.yamlError(data, err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		ps.addf(extra.Line, "", "only one YAML document is allowed")
	case !errors.Is(err, io.EOF):
		ps.yamlError(data, err)
	}
	if len(doc.Content) != 1 {
		ps.addf(1, "", "the price list is empty")
		return nil
	}
	return doc.Content[0]
}

// yamlParserProblems are the problems the YAML library's parser (as opposed to its scanner)
// reports. go.yaml.in/yaml/v3 v3.0.5 prints their line 0-based (the line where the enclosing
// construct starts, or of the problem when there is no such construct) and omits "line 0";
// yamlError corrects that. TestParseProblems pins the behaviour.
var yamlParserProblems = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found undefined tag handle",
	"found duplicate %YAML directive",
	"found duplicate %TAG directive",
	"found incompatible YAML document",
}

// yamlError reports an error of the YAML library as a problem with a 1-based line.
func (ps *parser) yamlError(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if slices.Contains(yamlParserProblems, msg) {
		line++
	}
	if m := unknownAnchorRE.FindStringSubmatch(msg); m != nil && line == 0 {
		line = lineOf(data, "*"+m[1])
	}
	ps.addf(line, "", "invalid YAML: %s", msg)
}

func (ps *parser) parse(data []byte) *PriceList {
	root := ps.decodeDocument(data)
	if root == nil {
		return nil
	}
	if isNull(root) {
		ps.addf(max(root.Line, 1), "", "the price list is empty")
		return nil
	}
	top, ok := ps.mapping(root, "", topKeys)
	if !ok {
		return nil
	}
	pl := &PriceList{
		vps:         map[vpsKey][]VPSPlan{},
		ips:         map[string][]IPPrice{},
		email:       map[string][]EmailPrice{},
		commitments: map[commitmentKey][]Commitment{},
	}
	f := fields{ps: ps, m: top, node: root}
	pl.Version, _ = f.str("version", true)
	if c, ok := f.str("currency", true); ok {
		if !isCurrency(c) {
			ps.addf(top["currency"].Line, "currency", "want 3 upper-case letters (ISO 4217, e.g. USD), got %q", c)
		}
		pl.Currency = c
	}

	var vps []VPSPlan
	ps.list(top, "vps_plans", vpsKeys, func(f fields) {
		e := VPSPlan{Line: f.node.Line}
		e.Provider, _ = f.str("provider", true)
		e.Plan, _ = f.str("plan", true)
		e.VCPUs, _ = f.positiveInt("vcpus")
		e.MemoryMB, _ = f.positiveInt("memory_mb")
		e.MonthlyPrice, _ = f.price("monthly_price", true)
		e.EffectiveFrom, _ = f.date("effective_from")
		if f.ok() {
			vps = append(vps, e)
		}
	})
	var ips []IPPrice
	ps.list(top, "ip_prices", ipKeys, func(f fields) {
		e := IPPrice{Line: f.node.Line}
		e.Provider, _ = f.str("provider", true)
		e.MonthlyPrice, _ = f.price("monthly_price", true)
		e.EffectiveFrom, _ = f.date("effective_from")
		if f.ok() {
			ips = append(ips, e)
		}
	})
	var email []EmailPrice
	ps.list(top, "email_providers", emailKeys, func(f fields) {
		e := EmailPrice{Line: f.node.Line}
		e.Provider, _ = f.str("provider", true)
		e.PerThousand, _ = f.price("per_thousand", true)
		e.MonthlyBaseFee, _ = f.price("monthly_base_fee", false)
		e.EffectiveFrom, _ = f.date("effective_from")
		if f.ok() {
			email = append(email, e)
		}
	})
	var commitments []Commitment
	ps.list(top, "commitments", commitmentKeys, func(f fields) {
		e := Commitment{Line: f.node.Line}
		e.Provider, _ = f.str("provider", true)
		if s, ok := f.str("resource_kind", true); ok {
			k, err := ParseResourceKind(s)
			if err != nil {
				ps.addf(f.m["resource_kind"].Line, f.path("resource_kind"), "want vps or ip, got %q", s)
			}
			e.ResourceKind = k
		}
		e.TermMonths, _ = f.positiveInt("term_months")
		e.Discount, _ = f.discount("discount")
		e.EffectiveFrom, _ = f.date("effective_from")
		if f.ok() {
			commitments = append(commitments, e)
		}
	})

	for _, e := range vps {
		pl.vps[vpsKey{e.Provider, e.Plan}] = append(pl.vps[vpsKey{e.Provider, e.Plan}], e)
	}
	for _, e := range ips {
		pl.ips[e.Provider] = append(pl.ips[e.Provider], e)
	}
	for _, e := range email {
		pl.email[e.Provider] = append(pl.email[e.Provider], e)
	}
	for _, e := range commitments {
		k := commitmentKey{e.Provider, e.ResourceKind, e.TermMonths}
		pl.commitments[k] = append(pl.commitments[k], e)
	}
	checkSeries(ps, "vps_plans", pl.vps, func(k vpsKey) string {
		return fmt.Sprintf("provider %q, plan %q", k.provider, k.plan)
	})
	checkSeries(ps, "ip_prices", pl.ips, func(k string) string { return fmt.Sprintf("provider %q", k) })
	checkSeries(ps, "email_providers", pl.email, func(k string) string { return fmt.Sprintf("provider %q", k) })
	checkSeries(ps, "commitments", pl.commitments, func(k commitmentKey) string {
		return fmt.Sprintf("provider %q, resource_kind %s, term_months %d", k.provider, k.kind, k.term)
	})
	if len(ps.problems) > 0 {
		// Entries with problems were left out: checking commitments against the prices left
		// could report providers whose prices are only mistyped.
		return nil
	}
	providers := pl.Providers()
	for _, c := range commitments {
		priced := providers.VPS
		if c.ResourceKind == KindIP {
			priced = providers.IP
		}
		if !slices.Contains(priced, c.Provider) {
			ps.addf(c.Line, joinPath(ps.paths[c.Line], "provider"),
				"no %s price for provider %q to discount", c.ResourceKind, c.Provider)
		}
	}
	if len(ps.problems) > 0 {
		return nil
	}
	return pl
}

// checkSeries sorts each key's entries by EffectiveFrom and reports entries of one key with the
// same EffectiveFrom, in line order.
func checkSeries[K comparable, T dated](ps *parser, section string, m map[K][]T, describe func(K) string) {
	var found []Problem
	for k, s := range m {
		slices.SortStableFunc(s, func(a, b T) int { return a.effective().Compare(b.effective()) })
		for i := 1; i < len(s); i++ {
			if !s[i].effective().Equal(s[i-1].effective()) {
				continue
			}
			when := "no effective_from"
			if t := s[i].effective(); !t.IsZero() {
				when = "effective_from " + t.Format(time.RFC3339)
			}
			found = append(found, Problem{
				Line: s[i].line(),
				Path: cmp.Or(ps.paths[s[i].line()], section),
				Message: fmt.Sprintf("duplicate entry for %s with %s (first at line %d)",
					describe(k), when, s[i-1].line()),
			})
		}
	}
	slices.SortFunc(found, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	ps.problems = append(ps.problems, found...)
}

// list walks the optional sequence top[key], calling each with the fields of every entry that is
// a well-formed mapping.
func (ps *parser) list(top map[string]*yaml.Node, key string, allowed []string, each func(fields)) {
	n, ok := top[key]
	if !ok || isNull(n) || n.Kind == yaml.AliasNode { // aliases are reported by mapping
		return
	}
	if n.Kind != yaml.SequenceNode {
		ps.addf(n.Line, key, "must be a list, not %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		path := fmt.Sprintf("%s[%d]", key, i)
		m, ok := ps.mapping(item, path, allowed)
		if !ok {
			continue
		}
		if _, seen := ps.paths[item.Line]; !seen {
			ps.paths[item.Line] = path
		}
		each(fields{ps: ps, m: m, node: item, prefix: path, n0: len(ps.problems)})
	}
}

// mapping checks that n is a mapping whose keys are distinct plain strings among allowed and
// returns its values by key. Problems with single keys are reported and those keys skipped.
func (ps *parser) mapping(n *yaml.Node, path string, allowed []string) (map[string]*yaml.Node, bool) {
	switch {
	case n.Kind == yaml.MappingNode:
	case path == "":
		ps.addf(n.Line, "", "the price list must be a mapping with keys %s, not %s", strings.Join(allowed, ", "), kindName(n))
		return nil, false
	case n.Kind == yaml.AliasNode:
		ps.addf(n.Line, path, "aliases (*%s) are not supported", n.Value)
		return nil, false
	default:
		ps.addf(n.Line, path, "must be a mapping, not %s", kindName(n))
		return nil, false
	}
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			ps.addf(k.Line, path, "keys must be plain strings, not %s", kindName(k))
			continue
		}
		kp := joinPath(path, k.Value)
		switch {
		case !slices.Contains(allowed, k.Value):
			ps.addf(k.Line, kp, "unknown key (want one of %s)", strings.Join(allowed, ", "))
		case first[k.Value] > 0:
			ps.addf(k.Line, kp, "duplicate key (first at line %d)", first[k.Value])
		default:
			if v.Kind == yaml.AliasNode { // kept, so that the key does not also count as missing
				ps.addf(v.Line, kp, "aliases (*%s) are not supported", v.Value)
			}
			first[k.Value] = k.Line
			m[k.Value] = v
		}
	}
	return m, true
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fields reads typed values out of one mapping, reporting problems at their line and path.
type fields struct {
	ps     *parser
	m      map[string]*yaml.Node
	node   *yaml.Node // the mapping, for the line of missing keys
	prefix string
	n0     int // problems before this mapping's values were read
}

// ok reports whether no problem was found since the fields were made.
func (f fields) ok() bool { return len(f.ps.problems) == f.n0 }

func (f fields) path(key string) string { return joinPath(f.prefix, key) }

// scalar returns the text of the scalar at key. ok is false when the key is absent or null (a
// "required" problem is reported if required) or is not a scalar.
func (f fields) scalar(key string, required bool) (string, *yaml.Node, bool) {
	n, present := f.m[key]
	if !present || isNull(n) {
		if required {
			line := f.node.Line
			if present {
				line = n.Line
			}
			f.ps.addf(line, f.path(key), "required")
		}
		return "", n, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value, n, true
	case yaml.AliasNode: // reported by mapping
	default:
		f.ps.addf(n.Line, f.path(key), "must be a single value, not %s", kindName(n))
	}
	return "", n, false
}

func (f fields) str(key string, required bool) (string, bool) {
	s, n, ok := f.scalar(key, required)
	if !ok {
		return "", false
	}
	switch {
	case strings.TrimSpace(s) == "":
		f.ps.addf(n.Line, f.path(key), "must not be empty")
		return "", false
	case strings.TrimSpace(s) != s:
		f.ps.addf(n.Line, f.path(key), "must not have leading or trailing spaces: %q", s)
		return "", false
	}
	return s, true
}

func (f fields) positiveInt(key string) (int, bool) {
	s, n, ok := f.scalar(key, true)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		f.ps.addf(n.Line, f.path(key), "must be a positive whole number, got %q", s)
		return 0, false
	}
	return v, true
}

// price reads a non-negative Money of at most MaxPrice; an absent optional price is 0.
func (f fields) price(key string, required bool) (Money, bool) {
	s, n, ok := f.scalar(key, required)
	if !ok {
		return 0, false
	}
	v, err := parseDecimal(s, moneyDecimals)
	switch {
	case err != nil:
		f.ps.addf(n.Line, f.path(key), "%q: %v", s, err)
		return 0, false
	case v < 0:
		f.ps.addf(n.Line, f.path(key), "must not be negative, got %s", s)
		return 0, false
	case Money(v) > MaxPrice:
		f.ps.addf(n.Line, f.path(key), "must be at most %s, got %s", MaxPrice, s)
		return 0, false
	}
	return Money(v), true
}

// discount reads a Fraction in [0, 1).
func (f fields) discount(key string) (Fraction, bool) {
	s, n, ok := f.scalar(key, true)
	if !ok {
		return 0, false
	}
	v, err := parseDecimal(s, moneyDecimals)
	switch {
	case err != nil:
		f.ps.addf(n.Line, f.path(key), "%q: %v", s, err)
		return 0, false
	case v < 0 || v >= FractionOne:
		f.ps.addf(n.Line, f.path(key), "must be a fraction at least 0 and below 1 (0.2 is 20%% off), got %s", s)
		return 0, false
	}
	return Fraction(v), true
}

// date reads an optional effective date; absent means the zero time (since forever).
func (f fields) date(key string) (time.Time, bool) {
	s, n, ok := f.scalar(key, false)
	if !ok {
		return time.Time{}, false
	}
	t, err := ParseDate(s)
	if err != nil {
		f.ps.addf(n.Line, f.path(key), "%v", err)
		return time.Time{}, false
	}
	return t, true
}

// ParseDate parses an effective date: a calendar date ("2026-01-01", midnight UTC) or an RFC 3339
// time ("2026-01-01T12:00:00Z", "2026-01-01T14:00:00+02:00"). The result is in UTC.
func ParseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("want a date (2026-01-01) or an RFC 3339 time (2026-01-01T00:00:00Z), got %q", s)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "a document"
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
