package authz

import (
	"path"
	"strings"
)

// MatchPath tells whether a stream path matches a glob: "*" (and the other
// path.Match patterns) within one segment, "**" as a whole segment for any
// number of segments, none included. The same globs as record.paths.
func MatchPath(glob, p string) bool {
	g, ps := strings.Split(glob, "/"), strings.Split(p, "/")
	// Stream paths have a handful of segments; the bound keeps "**/**/..."
	// from backtracking for long.
	if len(g) > maxSegments || len(ps) > maxSegments {
		return false
	}
	return matchSegs(g, ps)
}

const maxSegments = 32

func matchSegs(g, p []string) bool {
	for len(g) > 0 {
		if g[0] == "**" {
			if len(g) == 1 {
				return true
			}
			for i := 0; i <= len(p); i++ {
				if matchSegs(g[1:], p[i:]) {
					return true
				}
			}
			return false
		}
		if len(p) == 0 {
			return false
		}
		if ok, err := path.Match(g[0], p[0]); err != nil || !ok {
			return false
		}
		g, p = g[1:], p[1:]
	}
	return len(p) == 0
}
