package events

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSubjectMatches(t *testing.T) {
	cases := map[string]struct {
		subject string
		lane    Lane
		typ     Type
		tenant  string
		want    bool
	}{
		"live vps with partition":    {"usage.vps.sample.t-1.3", LaneLive, TypeVPSSample, "t-1", true},
		"live vps without partition": {"usage.vps.sample.t-1", LaneLive, TypeVPSSample, "t-1", true},
		"email":                      {"usage.email.volume.t_9.12", LaneLive, TypeEmailVolume, "t_9", true},
		"inventory":                  {"usage.inventory.resource.acme.0", LaneLive, TypeInventoryResource, "acme", true},
		"backfill":                   {"backfill.vps.sample.t-1.0", LaneBackfill, TypeVPSSample, "t-1", true},
		"other tenant":               {"usage.vps.sample.t-2.3", LaneLive, TypeVPSSample, "t-1", false},
		"tenant prefix of another":   {"usage.vps.sample.t-10.3", LaneLive, TypeVPSSample, "t-1", false},
		"other type":                 {"usage.email.volume.t-1.3", LaneLive, TypeVPSSample, "t-1", false},
		"other lane":                 {"backfill.vps.sample.t-1.3", LaneLive, TypeVPSSample, "t-1", false},
		"partition not a number":     {"usage.vps.sample.t-1.x", LaneLive, TypeVPSSample, "t-1", false},
		"empty partition":            {"usage.vps.sample.t-1.", LaneLive, TypeVPSSample, "t-1", false},
		"extra token":                {"usage.vps.sample.t-1.3.4", LaneLive, TypeVPSSample, "t-1", false},
		"truncated":                  {"usage.vps.sample", LaneLive, TypeVPSSample, "t-1", false},
		"empty":                      {"", LaneLive, TypeVPSSample, "t-1", false},
		"no dot between tokens":      {"usagevps.sample.t-1", LaneLive, TypeVPSSample, "t-1", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, c.want, SubjectMatches([]byte(c.subject), c.lane, c.typ, c.tenant))
		})
	}
}
