// Package ddl embeds the ClickHouse migrations of spendstream. Files are applied in name order; each
// holds statements separated by ";" at line ends, with {db} standing for the database name. Every
// statement is idempotent (IF NOT EXISTS), so re-applying a migration is harmless.
package ddl

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.sql
var files embed.FS

// Migration is one numbered file of statements.
type Migration struct {
	Name       string
	Statements []string
}

// Migrations returns the embedded migrations in order, with {db} replaced by db.
func Migrations(db string) ([]Migration, error) {
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Migration
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		out = append(out, Migration{Name: n, Statements: Split(strings.ReplaceAll(string(b), "{db}", db))})
	}
	return out, nil
}

// Split cuts a script into statements: comment lines ("--") are dropped, and a statement ends at a
// line ending with ";".
func Split(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			s := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			out = append(out, s)
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
