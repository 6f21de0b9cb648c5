package admit

import "testing"

// TestEqualWildcards: Kyverno's Equals takes * and ? as wildcards and
// nothing else (a [class] is literal text, as in Kyverno).
func TestEqualWildcards(t *testing.T) {
	for _, c := range []struct {
		key, value string
		want       bool
	}{
		{"https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1", "https://github.com/org/*", true},
		{"v1", "v?", true},
		{"b", "[abc]", false},
		{"[abc]", "[abc]", true},
		{"main", "main", true},
		{"mainline", "main", false},
	} {
		if got := equal(c.key, c.value); got != c.want {
			t.Errorf("%q Equals %q: %v, want %v", c.key, c.value, got, c.want)
		}
	}
}
