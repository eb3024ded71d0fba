package consumers

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/schemas/events"
)

func TestSubjectMatches(t *testing.T) {
	cases := map[string]struct {
		subject string
		prefix  string
		typ     events.Type
		tenant  string
		want    bool
	}{
		"live vps with partition":    {"usage.vps.sample.t-1.3", "usage", events.TypeVPSSample, "t-1", true},
		"live vps without partition": {"usage.vps.sample.t-1", "usage", events.TypeVPSSample, "t-1", true},
		"email":                      {"usage.email.volume.t_9.12", "usage", events.TypeEmailVolume, "t_9", true},
		"inventory":                  {"usage.inventory.resource.acme.0", "usage", events.TypeInventoryResource, "acme", true},
		"backfill":                   {"backfill.vps.sample.t-1.0", "backfill", events.TypeVPSSample, "t-1", true},
		"other tenant":               {"usage.vps.sample.t-2.3", "usage", events.TypeVPSSample, "t-1", false},
		"tenant prefix of another":   {"usage.vps.sample.t-10.3", "usage", events.TypeVPSSample, "t-1", false},
		"other type":                 {"usage.email.volume.t-1.3", "usage", events.TypeVPSSample, "t-1", false},
		"other lane":                 {"backfill.vps.sample.t-1.3", "usage", events.TypeVPSSample, "t-1", false},
		"partition not a number":     {"usage.vps.sample.t-1.x", "usage", events.TypeVPSSample, "t-1", false},
		"empty partition":            {"usage.vps.sample.t-1.", "usage", events.TypeVPSSample, "t-1", false},
		"extra token":                {"usage.vps.sample.t-1.3.4", "usage", events.TypeVPSSample, "t-1", false},
		"truncated":                  {"usage.vps.sample", "usage", events.TypeVPSSample, "t-1", false},
		"empty":                      {"", "usage", events.TypeVPSSample, "t-1", false},
		"no dot between tokens":      {"usagevps.sample.t-1", "usage", events.TypeVPSSample, "t-1", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, c.want, subjectMatches([]byte(c.subject), c.prefix, c.typ, c.tenant))
		})
	}
}
