package jsonstr

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// AppendUnescaped decodes like encoding/json, surrogates included.
func TestAppendUnescapedMatchesEncodingJSON(t *testing.T) {
	for _, lit := range []string{
		`plain`, `a\"b\\c\/d`, `\b\f\n\r\t`, `\u00e9\u20AC`, `caf\u00c3\u00a9`,
		`\ud83d\ude00`,      // a surrogate pair: one rune
		`\ud83d`, `\ude00x`, // lone surrogates: U+FFFD
		`\ud83d\u0041`,       // high surrogate then a non-surrogate
		`\ud83d\ud83d\ude00`, // lone high, then a pair
		`é€😀 raw UTF-8`,
	} {
		var want string
		require.NoError(t, json.Unmarshal([]byte(`"`+lit+`"`), &want), lit)
		require.Equal(t, want, string(AppendUnescaped([]byte("x"), []byte(lit))[1:]), lit)
	}
}
