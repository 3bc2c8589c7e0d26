package cascade

import "github.com/skyrelay/skyrelay/gateway/authz"

// offered tells whether a path is in an upstream's channels globs ([] =
// everything), with the globs of record.paths and the read rules.
func offered(globs []string, path string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if authz.MatchPath(g, path) {
			return true
		}
	}
	return false
}
