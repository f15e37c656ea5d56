package providers

import (
	"fmt"
	"maps"
	"regexp"
	"strings"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// Matcher decides which remote secrets a dataFrom find selects. Build it
// once per find with [NewMatcher]: the name regexp is compiled there, not
// per candidate.
type Matcher struct {
	name *regexp.Regexp
	path string
	tags map[string]string
}

// NewMatcher compiles find's criteria. A name regexp that does not compile
// is an error naming it (it is configuration, never a secret).
func NewMatcher(find esv1.ExternalSecretFind) (*Matcher, error) {
	m := &Matcher{tags: maps.Clone(find.Tags)}
	if find.Path != nil {
		m.path = *find.Path
	}
	if find.Name != nil {
		re, err := regexp.Compile(find.Name.RegExp)
		if err != nil {
			return nil, fmt.Errorf("find.name.regexp %q: %w", find.Name.RegExp, err)
		}
		m.name = re
	}
	return m, nil
}

// HasName reports whether the find names a regexp.
func (m *Matcher) HasName() bool { return m.name != nil }

// HasPath reports whether the find names a path.
func (m *Matcher) HasPath() bool { return m.path != "" }

// HasTags reports whether the find names tags.
func (m *Matcher) HasTags() bool { return len(m.tags) > 0 }

// MatchName reports whether name matches find.name.regexp (anywhere in the
// name, as regexp.MatchString does; anchor with ^ and $). No regexp
// matches every name.
func (m *Matcher) MatchName(name string) bool {
	return m.name == nil || m.name.MatchString(name)
}

// MatchPath reports whether name lies under find.path: it starts with it.
// No path matches every name.
func (m *Matcher) MatchPath(name string) bool {
	return strings.HasPrefix(name, m.path)
}

// MatchTags reports whether tags carries every one of find.tags with the
// same value. No tags match every secret.
func (m *Matcher) MatchTags(tags map[string]string) bool {
	for k, want := range m.tags {
		if got, ok := tags[k]; !ok || got != want {
			return false
		}
	}
	return true
}

// Match reports whether a remote secret named name with tags matches every
// criterion of the find.
func (m *Matcher) Match(name string, tags map[string]string) bool {
	return m.MatchPath(name) && m.MatchName(name) && m.MatchTags(tags)
}
