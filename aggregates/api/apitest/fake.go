// Package apitest holds test helpers of the query API: an in-memory roll-up store that implements
// api.Reader (and the consumers' BatchWriter), and a conformance suite that any Reader — the fake and
// *clickhouse.Store — must pass against values computed independently from raw events.
package apitest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spendstream/spendstream/aggregates"
	"github.com/spendstream/spendstream/aggregates/window"
	"github.com/spendstream/spendstream/schemas/events"
)

// Store is an in-memory roll-up store. It keeps the partials written to it at their fine step and
// answers reads the way the ClickHouse roll-ups do. Set Err to make every read fail.
type Store struct {
	mu       sync.Mutex
	vps      map[aggregates.VPSKey]*aggregates.VPSPartial
	email    map[aggregates.EmailKey]*aggregates.EmailPartial
	progress map[progressKey]aggregates.Progress

	// Err, when set, is returned by every read.
	Err error
	// Reads records every read, in order.
	Reads []Read
}

// Read is one recorded read: the method called and the scope it was given.
type Read struct {
	Method string
	Scope  aggregates.Scope
}

type progressKey struct {
	lane      events.Lane
	partition uint16
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{vps: map[aggregates.VPSKey]*aggregates.VPSPartial{},
		email: map[aggregates.EmailKey]*aggregates.EmailPartial{}, progress: map[progressKey]aggregates.Progress{}}
}

// WriteBatch merges b into the store, as one flush of a consumer would.
func (s *Store) WriteBatch(_ context.Context, b *aggregates.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, p := range b.VPS {
		k.WindowStart = k.WindowStart.UTC()
		if s.vps[k] == nil {
			s.vps[k] = &aggregates.VPSPartial{}
		}
		s.vps[k].Merge(p)
	}
	for k, p := range b.Email {
		k.WindowStart = k.WindowStart.UTC()
		if s.email[k] == nil {
			s.email[k] = &aggregates.EmailPartial{}
		}
		s.email[k].Merge(p)
	}
	flushed := b.FlushedAt.UTC().Truncate(time.Second)
	for _, pos := range b.Positions {
		k := progressKey{pos.Lane, pos.Partition}
		cur, ok := s.progress[k]
		if !ok {
			cur.Lane, cur.Partition = pos.Lane, pos.Partition
		}
		cur.StreamSeq = max(cur.StreamSeq, pos.StreamSeq)
		if asOf := pos.AsOf.UTC().Truncate(time.Second); asOf.After(cur.AsOf) {
			cur.AsOf = asOf
		}
		cur.Events += pos.Events
		if flushed.After(cur.FlushedAt) {
			cur.FlushedAt = flushed
		}
		s.progress[k] = cur
	}
	return nil
}

// SetProgress replaces the progress of one lane partition (for freshness scenarios).
func (s *Store) SetProgress(p aggregates.Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.progress[progressKey{p.Lane, p.Partition}] = p
}

func (s *Store) begin(method string, scope aggregates.Scope) error {
	s.Reads = append(s.Reads, Read{Method: method, Scope: scope})
	if s.Err != nil {
		return s.Err
	}
	return scope.Validate()
}

// visible applies the scope and the filters, as the WHERE clause of the store does.
func visible(scope aggregates.Scope, q aggregates.RollupQuery, start time.Time, tenant, provider string) bool {
	switch {
	case start.Before(q.From) || !start.Before(q.To):
		return false
	case !scope.All && tenant != scope.TenantID:
		return false
	case q.TenantID != "" && tenant != q.TenantID:
		return false
	case q.Provider != "" && provider != q.Provider:
		return false
	}
	return true
}

// groupKey is a row's window and grouped dimension values.
type groupKey struct {
	start time.Time
	dims  string // grouped values joined by \x00
}

func keyOf(start time.Time, groupBy []aggregates.Dimension, dim func(aggregates.Dimension) string) (groupKey, []string) {
	vals := make([]string, len(groupBy))
	var b []byte
	for i, d := range groupBy {
		vals[i] = dim(d)
		b = append(b, vals[i]...)
		b = append(b, 0)
	}
	return groupKey{start, string(b)}, vals
}

// EmailVolume implements api.Reader.
func (s *Store) EmailVolume(_ context.Context, scope aggregates.Scope, q aggregates.EmailQuery) ([]aggregates.EmailRow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("EmailVolume", scope); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("email query: %w", err)
	}
	groups := map[groupKey]*aggregates.EmailRow{}
	for k, p := range s.email {
		start := window.Assign(k.WindowStart, q.Step)
		if !visible(scope, q.RollupQuery, start, k.TenantID, k.Provider) {
			continue
		}
		src := aggregates.EmailRow{TenantID: k.TenantID, IP: k.IP, Pool: k.Pool, Provider: k.Provider}
		gk, vals := keyOf(start, q.GroupBy, src.Dim)
		r := groups[gk]
		if r == nil {
			r = &aggregates.EmailRow{WindowStart: start}
			for i, d := range q.GroupBy {
				r.SetDim(d, vals[i])
			}
			groups[gk] = r
		}
		r.Merge(p)
	}
	out := make([]aggregates.EmailRow, 0, len(groups))
	for _, r := range groups {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b aggregates.EmailRow) int {
		return compareRows(a.WindowStart, b.WindowStart, q.GroupBy, a.Dim, b.Dim)
	})
	return limit(out, q.Limit), nil
}

// VPSUtilization implements api.Reader.
func (s *Store) VPSUtilization(_ context.Context, scope aggregates.Scope, q aggregates.VPSQuery) ([]aggregates.VPSRow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("VPSUtilization", scope); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("vps query: %w", err)
	}
	type group struct {
		row aggregates.VPSRow
		sum aggregates.VPSPartial
	}
	groups := map[groupKey]*group{}
	for k, p := range s.vps {
		start := window.Assign(k.WindowStart, q.Step)
		if !visible(scope, q.RollupQuery, start, k.TenantID, k.Provider) {
			continue
		}
		src := aggregates.VPSRow{TenantID: k.TenantID, ResourceID: k.ResourceID, Provider: k.Provider, Plan: k.Plan, Region: k.Region}
		gk, vals := keyOf(start, q.GroupBy, src.Dim)
		g := groups[gk]
		if g == nil {
			g = &group{row: aggregates.VPSRow{WindowStart: start}}
			for i, d := range q.GroupBy {
				g.row.SetDim(d, vals[i])
			}
			groups[gk] = g
		}
		g.sum.Merge(p)
	}
	out := make([]aggregates.VPSRow, 0, len(groups))
	for _, g := range groups {
		p := &g.sum
		g.row.SetTotals(aggregates.VPSTotals{Samples: p.Samples, CPUCoreSeconds: p.CPUCoreSeconds, CPUSum: p.CPUSum, CPUMax: p.CPUMax,
			MemSum: p.MemSum, MemMax: p.MemMax, CPUHist: p.CPUHist.Uint64s(), MemHist: p.MemHist.Uint64s()})
		out = append(out, g.row)
	}
	slices.SortFunc(out, func(a, b aggregates.VPSRow) int {
		return compareRows(a.WindowStart, b.WindowStart, q.GroupBy, a.Dim, b.Dim)
	})
	return limit(out, q.Limit), nil
}

// LaneProgress implements api.Reader.
func (s *Store) LaneProgress(_ context.Context, scope aggregates.Scope) ([]aggregates.Progress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("LaneProgress", scope); err != nil {
		return nil, err
	}
	out := make([]aggregates.Progress, 0, len(s.progress))
	for _, p := range s.progress {
		if !scope.All {
			p.StreamSeq, p.Events = 0, 0
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b aggregates.Progress) int {
		return cmp.Or(cmp.Compare(a.Lane, b.Lane), cmp.Compare(a.Partition, b.Partition))
	})
	return out, nil
}

func compareRows(sa, sb time.Time, dims []aggregates.Dimension, da, db func(aggregates.Dimension) string) int {
	if c := sa.Compare(sb); c != 0 {
		return c
	}
	for _, d := range dims {
		if c := cmp.Compare(da(d), db(d)); c != 0 {
			return c
		}
	}
	return 0
}

func limit[T any](rows []T, n int) []T {
	if n > 0 && len(rows) > n {
		return rows[:n]
	}
	return rows
}
