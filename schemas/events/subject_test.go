package events

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSubject(t *testing.T) {
	tests := map[string]struct {
		ev   Event
		want string
	}{
		"live vps":            {Event{Type: TypeVPSSample, TenantID: "t-1"}, "usage.vps.sample.t-1"},
		"live email":          {Event{Type: TypeEmailVolume, TenantID: "t-042"}, "usage.email.volume.t-042"},
		"live inventory":      {Event{Type: TypeInventoryResource, TenantID: "T_9"}, "usage.inventory.resource.T_9"},
		"backfill vps":        {Event{Type: TypeVPSSample, TenantID: "t-1", Historical: true}, "backfill.vps.sample.t-1"},
		"backfill email":      {Event{Type: TypeEmailVolume, TenantID: "x", Historical: true}, "backfill.email.volume.x"},
		"backfill inventory":  {Event{Type: TypeInventoryResource, TenantID: "x", Historical: true}, "backfill.inventory.resource.x"},
		"max length tenantid": {Event{Type: TypeVPSSample, TenantID: "a234567890123456789012345678901234567890123456789012345678901234"}, "usage.vps.sample.a234567890123456789012345678901234567890123456789012345678901234"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, Subject(tc.ev))

			lane, typ, tenant, part, err := ParseSubject(tc.want)
			require.NoError(t, err)
			require.Equal(t, LaneOf(tc.ev), lane)
			require.Equal(t, tc.ev.Type, typ)
			require.Equal(t, tc.ev.TenantID, tenant)
			require.Equal(t, -1, part)

			lane, typ, tenant, part, err = ParseSubject(tc.want + ".7")
			require.NoError(t, err)
			require.Equal(t, LaneOf(tc.ev), lane)
			require.Equal(t, tc.ev.Type, typ)
			require.Equal(t, tc.ev.TenantID, tenant)
			require.Equal(t, 7, part)
		})
	}
}

func TestLane(t *testing.T) {
	require.Equal(t, "usage", LaneLive.SubjectPrefix())
	require.Equal(t, "backfill", LaneBackfill.SubjectPrefix())
	require.Empty(t, Lane("other").SubjectPrefix())
	require.Equal(t, LaneLive, LaneOf(Event{}))
	require.Equal(t, LaneBackfill, LaneOf(Event{Historical: true}))
}

func TestParseSubject(t *testing.T) {
	tests := map[string]struct {
		in        string
		lane      Lane
		typ       Type
		tenant    string
		partition int
		want      Reason
	}{
		"contract example":     {in: "usage.email.volume.t-042", lane: LaneLive, typ: TypeEmailVolume, tenant: "t-042", partition: -1},
		"partition 0":          {in: "usage.vps.sample.t-1.0", lane: LaneLive, typ: TypeVPSSample, tenant: "t-1", partition: 0},
		"partition 3":          {in: "backfill.inventory.resource.a.3", lane: LaneBackfill, typ: TypeInventoryResource, tenant: "a", partition: 3},
		"partition 123456789":  {in: "usage.vps.sample.t.123456789", lane: LaneLive, typ: TypeVPSSample, tenant: "t", partition: 123456789},
		"empty":                {in: "", want: ReasonMalformed},
		"too few tokens":       {in: "usage.vps.sample", want: ReasonMalformed},
		"too many tokens":      {in: "usage.vps.sample.t.1.2", want: ReasonMalformed},
		"far too many tokens":  {in: "a.b.c.d.e.f.g.h.i", want: ReasonMalformed},
		"unknown lane":         {in: "live.vps.sample.t", want: ReasonMalformed},
		"dlq lane":             {in: "dlq.vps.sample.t", want: ReasonMalformed},
		"unknown type":         {in: "usage.gpu.sample.t", want: ReasonUnknownType},
		"full type in subject": {in: "usage.usage.vps.sample.t", want: ReasonUnknownType},
		"empty tenant":         {in: "usage.vps.sample.", want: ReasonOutOfRange},
		"wildcard tenant":      {in: "usage.vps.sample.*", want: ReasonOutOfRange},
		"gt tenant":            {in: "usage.vps.sample.>", want: ReasonOutOfRange},
		"tenant too long":      {in: "usage.vps.sample.a2345678901234567890123456789012345678901234567890123456789012345", want: ReasonOutOfRange},
		"empty partition":      {in: "usage.vps.sample.t.", want: ReasonMalformed},
		"negative partition":   {in: "usage.vps.sample.t.-1", want: ReasonMalformed},
		"plus partition":       {in: "usage.vps.sample.t.+1", want: ReasonMalformed},
		"leading zero":         {in: "usage.vps.sample.t.01", want: ReasonMalformed},
		"hex partition":        {in: "usage.vps.sample.t.0x1", want: ReasonMalformed},
		"huge partition":       {in: "usage.vps.sample.t.1234567890", want: ReasonMalformed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			lane, typ, tenant, part, err := ParseSubject(tc.in)
			if tc.want != "" {
				require.Error(t, err)
				require.Equal(t, tc.want, ReasonOf(err), "%v", err)
				var re *RejectError
				require.ErrorAs(t, err, &re)
				require.Equal(t, "subject", re.Field)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.lane, lane)
			require.Equal(t, tc.typ, typ)
			require.Equal(t, tc.tenant, tenant)
			require.Equal(t, tc.partition, part)
		})
	}
}
