package streams

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/schemas/events"
)

// testNATS is one embedded server with a client connection, torn down at the end of the test.
type testNATS struct {
	srv *Embedded
	nc  *nats.Conn
	js  jetstream.JetStream
}

func startNATS(t *testing.T) *testNATS {
	t.Helper()
	srv, err := StartEmbedded(EmbeddedConfig{Dir: t.TempDir(), Port: -1, MaxStore: 1 << 30})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown) // runs after nc.Close (LIFO) and before the TempDir removal
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return &testNATS{srv: srv, nc: nc, js: js}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func provisioned(t *testing.T, partitions int) (*testNATS, Config) {
	t.Helper()
	n := startNATS(t)
	c := DefaultConfig()
	c.Partitions = partitions
	require.NoError(t, Provision(testCtx(t), n.js, c))
	return n, c
}

// storedMsgs reads every message of a stream in sequence order.
func storedMsgs(t *testing.T, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := testCtx(t)
	s, err := js.Stream(ctx, stream)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	var out []*jetstream.RawStreamMsg
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		require.NoError(t, err)
		out = append(out, m)
	}
	return out
}

// partitionOf returns the partition token appended by the stream's subject transform.
func partitionOf(t *testing.T, subject string) int {
	t.Helper()
	_, _, _, p, err := events.ParseSubject(subject)
	require.NoError(t, err, subject)
	return p
}

func tenantOf(t *testing.T, subject string) string {
	t.Helper()
	_, _, tenant, _, err := events.ParseSubject(subject)
	require.NoError(t, err, subject)
	return tenant
}

// testEvent is a valid event of one of the three types (by i) for tenant, with a unique id.
func testEvent(tenant string, i int, historical bool) events.Event {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	ev := events.Event{
		ID:         fmt.Sprintf("ev-%s-%d-%t", tenant, i, historical),
		Source:     "streams-test",
		Time:       at,
		TenantID:   tenant,
		Historical: historical,
	}
	switch i % 3 {
	case 0:
		ev.Type = events.TypeVPSSample
		ev.VPS = &events.VPSSample{ResourceID: "vps-" + tenant, Provider: "hetzner", Region: "fsn1", Plan: "cx22",
			VCPUs: 2, MemoryMB: 4096, CPUUtil: 0.25, MemUtil: 0.5, IntervalSeconds: 60}
	case 1:
		ev.Type = events.TypeEmailVolume
		ev.Email = &events.EmailVolume{IP: "192.0.2.10", Pool: "transactional", Provider: "ses",
			Sent: 100, Delivered: 98, Bounced: 1, Deferred: 1, IntervalSeconds: 300}
	default:
		ev.Type = events.TypeInventoryResource
		ev.Inventory = &events.InventoryResource{ResourceID: "vps-" + tenant, Kind: events.KindVPS, Provider: "hetzner",
			Region: "fsn1", Plan: "cx22", Action: events.ActionProvisioned}
	}
	return ev
}

func outgoing(t *testing.T, ev events.Event) Outgoing {
	t.Helper()
	b, err := events.Encode(ev)
	require.NoError(t, err)
	return Outgoing{Subject: events.Subject(ev), MsgID: ev.ID, Data: b}
}

func TestNames(t *testing.T) {
	require.Equal(t, "USAGE", StreamName(events.LaneLive))
	require.Equal(t, "BACKFILL", StreamName(events.LaneBackfill))
	require.Equal(t, "rollup-live-p0", ConsumerName(events.LaneLive, 0))
	require.Equal(t, "rollup-backfill-p3", ConsumerName(events.LaneBackfill, 3))
	require.Equal(t, "rollup-posthog", ConsumerName(events.LanePostHog, AllPartitions))
	require.Equal(t, "deadletter.live.malformed", DeadLetterSubject(events.LaneLive, "malformed"))
	require.Equal(t, "deadletter.backfill.too_late", DeadLetterSubject(events.LaneBackfill, string(events.ReasonTooLate)))

	one := DefaultConfig()
	one.Partitions = 1
	four := DefaultConfig()
	four.Partitions = 4
	require.Equal(t, "usage.*.*.*", FilterSubject(one, events.LaneLive, 0))
	require.Equal(t, "backfill.*.*.*", FilterSubject(one, events.LaneBackfill, 0))
	require.Equal(t, "usage.*.*.*.2", FilterSubject(four, events.LaneLive, 2))
	require.Equal(t, "backfill.*.*.*.3", FilterSubject(four, events.LaneBackfill, 3))
	require.Empty(t, FilterSubject(four, events.LaneLive, AllPartitions))
	require.Equal(t, []string{"rollup-live", "rollup-live-p0", "rollup-live-p1", "rollup-live-p2", "rollup-live-p3"},
		ConsumerNames(four, events.LaneLive))
}

func TestConfigValidate(t *testing.T) {
	tests := map[string]struct {
		mod     func(*Config)
		wantErr string
	}{
		"default":             {mod: func(*Config) {}},
		"one partition":       {mod: func(c *Config) { c.Partitions = 1 }},
		"256 partitions":      {mod: func(c *Config) { c.Partitions = 256 }},
		"zero partitions":     {mod: func(c *Config) { c.Partitions = 0 }, wantErr: "partitions"},
		"257 partitions":      {mod: func(c *Config) { c.Partitions = 257 }, wantErr: "partitions"},
		"zero replicas":       {mod: func(c *Config) { c.Replicas = 0 }, wantErr: "replicas"},
		"six replicas":        {mod: func(c *Config) { c.Replicas = 6 }, wantErr: "replicas"},
		"no duplicate window": {mod: func(c *Config) { c.DuplicateWindow = 0 }, wantErr: "duplicate window"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestProvisionRejectsInvalidConfig(t *testing.T) {
	n := startNATS(t)
	c := DefaultConfig()
	c.Partitions = 0
	require.Error(t, Provision(testCtx(t), n.js, c))
	names := n.js.StreamNames(testCtx(t))
	var got []string
	for s := range names.Name() {
		got = append(got, s)
	}
	require.NoError(t, names.Err())
	require.Empty(t, got, "nothing is created for an invalid config")
}

func TestProvisionIdempotent(t *testing.T) {
	tests := map[string]struct {
		partitions int
	}{
		"one partition":   {partitions: 1},
		"four partitions": {partitions: 4},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n := startNATS(t)
			ctx := testCtx(t)
			c := DefaultConfig()
			c.Partitions = tc.partitions
			c.DuplicateWindow = 90 * time.Second
			require.NoError(t, Provision(ctx, n.js, c))
			require.NoError(t, Provision(ctx, n.js, c), "second Provision")

			for _, l := range []events.Lane{events.LaneLive, events.LaneBackfill} {
				s, err := n.js.Stream(ctx, StreamName(l))
				require.NoError(t, err)
				info, err := s.Info(ctx)
				require.NoError(t, err)
				sc := info.Config
				require.Equal(t, jetstream.FileStorage, sc.Storage, l)
				require.Equal(t, jetstream.LimitsPolicy, sc.Retention, l)
				require.Equal(t, 90*time.Second, sc.Duplicates, l)
				require.Equal(t, []string{l.SubjectPrefix() + ".*.*.*"}, sc.Subjects, l)
				require.Equal(t, 7*24*time.Hour, sc.MaxAge, l)
				if tc.partitions > 1 {
					require.NotNil(t, sc.SubjectTransform, l)
					require.Equal(t, l.SubjectPrefix()+".*.*.*", sc.SubjectTransform.Source)
					require.Contains(t, sc.SubjectTransform.Destination, "partition(4,3)")
				} else {
					require.Nil(t, sc.SubjectTransform, l)
				}
			}
			s, err := n.js.Stream(ctx, StreamDeadLetter)
			require.NoError(t, err)
			info, err := s.Info(ctx)
			require.NoError(t, err)
			require.Equal(t, jetstream.FileStorage, info.Config.Storage)
			require.Equal(t, jetstream.LimitsPolicy, info.Config.Retention)
			require.Equal(t, []string{"deadletter.>"}, info.Config.Subjects)
			require.Equal(t, 30*24*time.Hour, info.Config.MaxAge)
		})
	}
}

func TestDeadLetterSubjectLandsInDeadLetterStream(t *testing.T) {
	n, _ := provisioned(t, 4)
	ctx := testCtx(t)
	msg := &nats.Msg{Subject: DeadLetterSubject(events.LaneLive, string(events.ReasonMalformed)), Data: []byte("{"), Header: nats.Header{}}
	msg.Header.Set(HeaderReason, string(events.ReasonMalformed))
	ack, err := n.js.PublishMsg(ctx, msg)
	require.NoError(t, err)
	require.Equal(t, StreamDeadLetter, ack.Stream)
	got := storedMsgs(t, n.js, StreamDeadLetter)
	require.Len(t, got, 1)
	require.Equal(t, "deadletter.live.malformed", got[0].Subject)
	require.Equal(t, "malformed", got[0].Header.Get(HeaderReason))
}

func TestDuplicateWindow(t *testing.T) {
	n, _ := provisioned(t, 4)
	ctx := testCtx(t)
	p := NewPublisher(n.js)
	ev := testEvent("t-dup", 1, false)

	r1, err := p.PublishEvent(ctx, ev)
	require.NoError(t, err)
	require.False(t, r1.Duplicate)
	r2, err := p.PublishEvent(ctx, ev)
	require.NoError(t, err)
	require.True(t, r2.Duplicate, "same Nats-Msg-Id within the window")
	require.Equal(t, r1.Seq, r2.Seq, "a duplicate ack names the stored copy")

	// Within one batch too, with different bytes but the same id.
	o := outgoing(t, testEvent("t-dup", 2, false))
	o2 := o
	o2.Data = append([]byte(nil), o.Data...)
	o2.Data = append(o2.Data, ' ')
	res := p.Publish(ctx, []Outgoing{o, o2})
	require.NoError(t, res[0].Err)
	require.NoError(t, res[1].Err)
	require.False(t, res[0].Duplicate)
	require.True(t, res[1].Duplicate)

	got := storedMsgs(t, n.js, StreamLive)
	require.Len(t, got, 2)
	require.Equal(t, events.MsgID(ev), got[0].Header.Get(jetstream.MsgIDHeader))
	require.Equal(t, o.MsgID, got[1].Header.Get(jetstream.MsgIDHeader))
	require.Equal(t, string(o.Data), string(got[1].Data), "the first copy is kept")
}

func TestPartitions(t *testing.T) {
	n, c := provisioned(t, 4)
	ctx := testCtx(t)
	p := NewPublisher(n.js)

	const tenants, perTenant = 40, 3
	var out []Outgoing
	for i := range perTenant { // interleaved: tenant order repeats
		for k := range tenants {
			out = append(out, outgoing(t, testEvent(fmt.Sprintf("t-%03d", k), i, false)))
		}
	}
	out = append(out, outgoing(t, testEvent("t-000", 7, true))) // backfill lane
	for i, r := range p.Publish(ctx, out) {
		require.NoError(t, r.Err, i)
		require.False(t, r.Duplicate, i)
	}

	got := storedMsgs(t, n.js, StreamLive)
	require.Len(t, got, tenants*perTenant)
	partOf := map[string]int{}
	used := map[int]int{}
	for i, m := range got {
		require.Equal(t, out[i].Subject+"."+strconv.Itoa(partitionOf(t, m.Subject)), m.Subject, "stored subject = published subject + partition")
		part := partitionOf(t, m.Subject)
		require.Equal(t, part, PartitionOf(c, events.LaneLive, []byte(m.Subject)), m.Subject)
		require.GreaterOrEqual(t, part, 0, m.Subject)
		require.Less(t, part, c.Partitions, m.Subject)
		tenant := tenantOf(t, m.Subject)
		if prev, ok := partOf[tenant]; ok {
			require.Equal(t, prev, part, "tenant %s moved partition (subject %s)", tenant, m.Subject)
		}
		partOf[tenant] = part
		used[part]++
	}
	require.Len(t, partOf, tenants)
	require.Greater(t, len(used), 1, "40 tenants all hashed to one partition: %v", used)

	back := storedMsgs(t, n.js, StreamBackfill)
	require.Len(t, back, 1)
	require.True(t, strings.HasPrefix(back[0].Subject, "backfill.email.volume.t-000."), back[0].Subject)
	bp := partitionOf(t, back[0].Subject)
	require.GreaterOrEqual(t, bp, 0)
	require.Less(t, bp, c.Partitions)

	// FilterSubject selects exactly one partition: each partition's consumer sees exactly the
	// messages stored with its suffix, and together they see everything once.
	total := 0
	for part := range c.Partitions {
		cons, err := ResetConsumer(ctx, n.js, c, events.LaneLive, part, 0)
		require.NoError(t, err)
		info, err := cons.Info(ctx)
		require.NoError(t, err)
		require.Equal(t, FilterSubject(c, events.LaneLive, part), info.Config.FilterSubject)
		require.EqualValues(t, used[part], info.NumPending, "partition %d", part)
		for _, m := range fetch(t, cons, used[part]) {
			require.Equal(t, part, partitionOf(t, m.subject), m.subject)
		}
		total += int(info.NumPending)
	}
	require.Equal(t, tenants*perTenant, total)

	// The whole-lane consumer is unfiltered and delivers every partition in stream order.
	cons, err := ResetConsumer(ctx, n.js, c, events.LaneLive, AllPartitions, 0)
	require.NoError(t, err)
	info, err := cons.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, "rollup-live", info.Name)
	require.Empty(t, info.Config.FilterSubject)
	require.EqualValues(t, tenants*perTenant, info.NumPending)
	all := fetch(t, cons, tenants*perTenant)
	for i, m := range all {
		require.Equal(t, got[i].Subject, m.subject)
		require.Equal(t, got[i].Sequence, m.seq)
	}
	_, err = n.js.CreateConsumer(ctx, StreamLive, jetstream.ConsumerConfig{Durable: "not-rollup"})
	require.NoError(t, err)
	infos, err := RollupConsumerInfos(ctx, n.js, c, events.LaneLive)
	require.NoError(t, err)
	var listed []string
	for _, info := range infos {
		listed = append(listed, info.Name)
	}
	require.ElementsMatch(t, ConsumerNames(c, events.LaneLive), listed, "the roll-up consumers, not the others")
	require.NoError(t, DeleteConsumers(ctx, n.js, events.LaneLive, append(ConsumerNames(c, events.LaneLive), "not-rollup")...))
	require.NoError(t, DeleteConsumers(ctx, n.js, events.LaneLive, ConsumerNames(c, events.LaneLive)...), "deleting what is gone is fine")
	st, err := n.js.Stream(ctx, StreamLive)
	require.NoError(t, err)
	names := st.ConsumerNames(ctx)
	for name := range names.Name() {
		t.Errorf("consumer %s left", name)
	}
}

func TestPartitionOf(t *testing.T) {
	four := DefaultConfig()
	four.Partitions = 4
	one := DefaultConfig()
	one.Partitions = 1
	for _, tc := range []struct {
		cfg     Config
		lane    events.Lane
		subject string
		want    int
	}{
		{four, events.LaneLive, "usage.vps.sample.t-1.3", 3},
		{four, events.LaneLive, "usage.vps.sample.t-1.0", 0},
		{four, events.LaneBackfill, "backfill.email.volume.t-9.2", 2},
		{four, events.LaneLive, "usage.vps.sample.t-1.6", 2},    // stored under 8 partitions, now 4: folded
		{four, events.LaneLive, "usage.vps.sample.t-1", 0},      // stored before partitions
		{four, events.LaneLive, "usage.vps.sample.12.x", 0},     // not a partition token
		{four, events.LaneLive, "usage.vps.sample.t-1.", 0},     // empty token
		{four, events.LaneLive, "backfill.vps.sample.t-1.3", 0}, // another lane's subject
		{one, events.LaneLive, "usage.vps.sample.t-1.3", 0},
	} {
		require.Equal(t, tc.want, PartitionOf(tc.cfg, tc.lane, []byte(tc.subject)), tc.subject)
	}
}

type fetched struct {
	seq     uint64
	subject string
}

// fetch pulls exactly n messages, acking each (a no-op under ack policy "none").
func fetch(t *testing.T, cons jetstream.Consumer, n int) []fetched {
	t.Helper()
	var out []fetched
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		batch, err := cons.Fetch(n-len(out), jetstream.FetchMaxWait(2*time.Second))
		require.NoError(t, err)
		for m := range batch.Messages() {
			md, err := m.Metadata()
			require.NoError(t, err)
			out = append(out, fetched{seq: md.Sequence.Stream, subject: m.Subject()})
			require.NoError(t, m.Ack())
		}
		require.NoError(t, batch.Error())
	}
	require.Len(t, out, n)
	return out
}

func TestResetConsumer(t *testing.T) {
	tests := map[string]struct {
		partitions int
	}{
		"one partition":   {partitions: 1},
		"four partitions": {partitions: 4},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n, c := provisioned(t, tc.partitions)
			ctx := testCtx(t)
			p := NewPublisher(n.js)
			var out []Outgoing
			for i := range 5 {
				for k := range 12 {
					out = append(out, outgoing(t, testEvent(fmt.Sprintf("t-%02d", k), i, false)))
				}
			}
			for i, r := range p.Publish(ctx, out) {
				require.NoError(t, r.Err, i)
			}

			// The partition with the most messages, and its stream sequences in order.
			bySeq := map[int][]uint64{}
			for _, m := range storedMsgs(t, n.js, StreamLive) {
				part := 0
				if tc.partitions > 1 {
					part = partitionOf(t, m.Subject)
				}
				bySeq[part] = append(bySeq[part], m.Sequence)
			}
			part := 0
			for k, v := range bySeq {
				if len(v) > len(bySeq[part]) {
					part = k
				}
			}
			seqs := bySeq[part]
			require.GreaterOrEqual(t, len(seqs), 3)

			first := func(committed uint64) (uint64, int) {
				t.Helper()
				cons, err := ResetConsumer(ctx, n.js, c, events.LaneLive, part, committed)
				require.NoError(t, err)
				info, err := cons.Info(ctx)
				require.NoError(t, err)
				require.Equal(t, ConsumerName(events.LaneLive, part), info.Name)
				require.Equal(t, jetstream.AckNonePolicy, info.Config.AckPolicy)
				got := fetch(t, cons, int(info.NumPending))
				if len(got) == 0 {
					return 0, 0
				}
				return got[0].seq, len(got)
			}

			seq, pending := first(0)
			require.Equal(t, seqs[0], seq, "committed=0 starts at the partition's first message")
			require.Equal(t, len(seqs), pending)

			// Called again on the existing (now fully delivered) durable: starts over.
			seq, pending = first(0)
			require.Equal(t, seqs[0], seq, "reset of an existing durable")
			require.Equal(t, len(seqs), pending)

			// committed = a sequence of this partition: the next one of this partition.
			seq, pending = first(seqs[1])
			require.Equal(t, seqs[2], seq)
			require.Equal(t, len(seqs)-2, pending)

			// committed = a sequence just before one of this partition (possibly of another).
			seq, pending = first(seqs[2] - 1)
			require.Equal(t, seqs[2], seq)
			require.Equal(t, len(seqs)-2, pending)

			// committed = the partition's last message: nothing pending.
			last := seqs[len(seqs)-1]
			_, pending = first(last)
			require.Zero(t, pending)

			// Backfill lane, an empty stream: the consumer is created and has nothing pending.
			cons, err := ResetConsumer(ctx, n.js, c, events.LaneBackfill, part, 0)
			require.NoError(t, err)
			info, err := cons.Info(ctx)
			require.NoError(t, err)
			require.Equal(t, ConsumerName(events.LaneBackfill, part), info.Name)
			require.Zero(t, info.NumPending)
		})
	}
}

func TestStartEmbeddedLock(t *testing.T) {
	dir := t.TempDir()
	e1, err := StartEmbedded(EmbeddedConfig{Dir: dir, Port: -1})
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			e1.Shutdown()
		}
	})

	e2, err := StartEmbedded(EmbeddedConfig{Dir: dir, Port: -1})
	require.Error(t, err, "second server on the same dir")
	require.Nil(t, e2)
	require.ErrorContains(t, err, "in use")

	// The refused attempt did not disturb the first server.
	nc, err := nats.Connect(e1.URL())
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, Provision(testCtx(t), js, DefaultConfig()))
	_, err = NewPublisher(js).PublishEvent(testCtx(t), testEvent("t-1", 0, false))
	require.NoError(t, err)
	nc.Close()

	e1.Shutdown()
	stopped = true

	e3, err := StartEmbedded(EmbeddedConfig{Dir: dir, Port: -1})
	require.NoError(t, err, "after Shutdown the dir is free again")
	t.Cleanup(e3.Shutdown)
	nc, err = nats.Connect(e3.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err = jetstream.New(nc)
	require.NoError(t, err)
	require.Len(t, storedMsgs(t, js, StreamLive), 1, "data persists across restarts")
}

func TestPublishManyInOrder(t *testing.T) {
	n, _ := provisioned(t, 4)
	ctx := testCtx(t)
	p := NewPublisher(n.js)

	count := 2*publishWindow + 537
	out := make([]Outgoing, count)
	for i := range out {
		out[i] = Outgoing{
			Subject: fmt.Sprintf("usage.vps.sample.t-%02d", i%17),
			MsgID:   fmt.Sprintf("many-%05d", i),
			Data:    []byte(fmt.Sprintf(`{"i":%d}`, i)),
		}
	}
	out[count-1].MsgID = out[5].MsgID // a duplicate across windows

	res := p.Publish(ctx, out)
	require.Len(t, res, count)
	for i, r := range res[:count-1] {
		require.NoError(t, r.Err, i)
		require.False(t, r.Duplicate, i)
		require.EqualValues(t, i+1, r.Seq, "result %d is for message %d", i, i)
	}
	require.NoError(t, res[count-1].Err)
	require.True(t, res[count-1].Duplicate)
	require.Equal(t, res[5].Seq, res[count-1].Seq)

	got := storedMsgs(t, n.js, StreamLive)
	require.Len(t, got, count-1)
	for i, m := range got {
		require.Equal(t, out[i].MsgID, m.Header.Get(jetstream.MsgIDHeader))
		require.Equal(t, string(out[i].Data), string(m.Data))
	}

	require.Empty(t, p.Publish(ctx, nil))
}

func TestPublishContextEnds(t *testing.T) {
	tests := map[string]struct {
		ctx     func(t *testing.T) context.Context
		wantErr error
	}{
		"cancelled": {
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx
			},
			wantErr: context.Canceled,
		},
		"deadline": {
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			wantErr: context.DeadlineExceeded,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n := startNATS(t)
			// Someone listens on the subject (so no "no responders") but never acknowledges.
			sub, err := n.nc.Subscribe("noack.>", func(*nats.Msg) {})
			require.NoError(t, err)
			t.Cleanup(func() { _ = sub.Unsubscribe() })
			require.NoError(t, n.nc.Flush())

			count := publishWindow + 500
			out := make([]Outgoing, count)
			for i := range out {
				out[i] = Outgoing{Subject: "noack.x", MsgID: strconv.Itoa(i), Data: []byte("x")}
			}
			done := make(chan []Result, 1)
			start := time.Now()
			go func() { done <- NewPublisher(n.js).Publish(tc.ctx(t), out) }()
			var res []Result
			select {
			case res = <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("Publish did not return after its context ended")
			}
			require.Less(t, time.Since(start), 5*time.Second)
			require.Len(t, res, count)
			for i, r := range res {
				require.ErrorIs(t, r.Err, ErrNotAcked, i)
				require.ErrorIs(t, r.Err, tc.wantErr, i)
				require.False(t, r.Duplicate)
				require.Zero(t, r.Seq)
			}
		})
	}
}

func TestPublishNoStream(t *testing.T) {
	n := startNATS(t) // not provisioned: nobody answers usage.*
	ctx := testCtx(t)
	res := NewPublisher(n.js).Publish(ctx, []Outgoing{{Subject: "usage.vps.sample.t-1", MsgID: "a", Data: []byte("{}")}})
	require.Len(t, res, 1)
	require.Error(t, res[0].Err)
	require.NotErrorIs(t, res[0].Err, ErrNotAcked, "a broker error is reported as such, not as a timeout")
}

func TestPublishEventEncodeError(t *testing.T) {
	n := startNATS(t)
	_, err := NewPublisher(n.js).PublishEvent(testCtx(t), events.Event{ID: "x", Type: events.TypeVPSSample, TenantID: "t-1"})
	require.Error(t, err, "an event without data cannot be encoded")
}

// TestPublishAfterAbandonedAcks: when acks never come (a stream without a leader keeps the
// connection up but never answers), every Publish that ends by its context abandons its futures.
// They should not pile up until the shared JetStream context refuses all further publishes.
func TestPublishAfterAbandonedAcks(t *testing.T) {
	n, _ := provisioned(t, 4)
	js, err := NewJetStream(n.nc, 50*time.Millisecond)
	require.NoError(t, err)
	n.js = js
	sub, err := n.nc.Subscribe("noack.>", func(*nats.Msg) {})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, n.nc.Flush())
	p := NewPublisher(n.js)
	for range 4 {
		out := make([]Outgoing, publishWindow)
		for i := range out {
			out[i] = Outgoing{Subject: "noack.x", Data: []byte("x")}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		for _, r := range p.Publish(ctx, out) {
			require.ErrorIs(t, r.Err, ErrNotAcked)
		}
		cancel()
	}
	time.Sleep(200 * time.Millisecond) // the abandoned acks expire
	_, err = p.PublishEvent(testCtx(t), testEvent("t-1", 0, false))
	require.NoError(t, err)
}

// Concurrent requests share the client's window of pending acknowledgements. A publish that finds
// the window full waits for room as long as its context allows; it does not fail after the
// client's 200 ms default (which is what a CI machine under load hit with five 1,000-event batches
// arriving at once). Here a responder that acknowledges only after a second holds the whole window.
func TestPublishWaitsForRoomInPendingWindow(t *testing.T) {
	n, _ := provisioned(t, 4)
	js, err := NewJetStream(n.nc, 10*time.Second)
	require.NoError(t, err)
	p := NewPublisher(js)

	slowNC, err := nats.Connect(n.srv.URL())
	require.NoError(t, err)
	t.Cleanup(slowNC.Close)
	_, err = slowNC.Subscribe("slowack.>", func(m *nats.Msg) {
		time.AfterFunc(time.Second, func() { _ = m.Respond([]byte(`{"stream":"SLOW","seq":1}`)) })
	})
	require.NoError(t, err)
	require.NoError(t, slowNC.Flush())

	const holders = 4 // four requests of publishWindow each fill the window, acknowledged a second later
	hold := make([]Outgoing, publishWindow)
	for i := range hold {
		hold[i] = Outgoing{Subject: "slowack.x", Data: []byte(`{}`)}
	}
	held := make(chan []Result, holders)
	for range holders {
		go func() { held <- p.Publish(testCtx(t), hold) }()
	}
	require.Eventually(t, func() bool { return js.PublishAsyncPending() == holders*publishWindow }, 5*time.Second, time.Millisecond)

	res := p.Publish(testCtx(t), []Outgoing{{Subject: "usage.vps.sample.t-01", MsgID: "after-stall", Data: []byte(`{}`)}})
	require.NoError(t, res[0].Err)
	require.Len(t, storedMsgs(t, n.js, StreamLive), 1)
	for range holders {
		for i, r := range <-held {
			require.NoError(t, r.Err, i)
		}
	}
}

func BenchmarkPartitionOf(b *testing.B) {
	c := DefaultConfig()
	subject := []byte("usage.vps.sample.t-0042.3")
	b.ReportAllocs()
	for b.Loop() {
		if PartitionOf(c, events.LaneLive, subject) != 3 {
			b.Fatal("wrong partition")
		}
	}
}
