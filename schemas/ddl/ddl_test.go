package ddl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplit(t *testing.T) {
	got := Split("-- comment\nCREATE TABLE a (x UInt8)\nENGINE = Null;\n\nSELECT 1;\n  -- trailing\nSELECT 2")
	require.Equal(t, []string{"CREATE TABLE a (x UInt8)\nENGINE = Null", "SELECT 1", "SELECT 2"}, got)
}

func TestMigrationsArePortable(t *testing.T) {
	ms, err := Migrations("mydb")
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	for _, m := range ms {
		for _, s := range m.Statements {
			require.NotContains(t, s, "{db}")
			require.Contains(t, s, "IF NOT EXISTS", "%s: every statement must be idempotent: %s", m.Name, s)
			up := strings.ToUpper(s)
			// Features that fail on ClickHouse 18.16 (see shared/docs/clickhouse.md).
			for _, bad := range []string{"LOWCARDINALITY", "DATETIME64", " TTL ", "CODEC(", "SIMPLEAGGREGATEFUNCTION", "MAP(", "TOSTARTOFINTERVAL", "OR REPLACE"} {
				require.NotContains(t, up, bad, "%s: %s is outside the portable subset", m.Name, bad)
			}
		}
	}
}
