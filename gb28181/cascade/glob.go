package cascade

import "strings"

// matchGlob tells whether a stream path matches a pattern of
// slash-separated segments where "*" matches one segment (or part of one,
// as in "live/cam*") and "**" any number of segments.
func matchGlob(pattern, path string) bool {
	return matchSegs(strings.Split(pattern, "/"), strings.Split(path, "/"), 0)
}

func matchSegs(p, s []string, depth int) bool {
	if depth > 64 {
		return false
	}
	for len(p) > 0 {
		if p[0] == "**" {
			for i := 0; i <= len(s); i++ {
				if matchSegs(p[1:], s[i:], depth+1) {
					return true
				}
			}
			return false
		}
		if len(s) == 0 || !matchSeg(p[0], s[0]) {
			return false
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}

// matchSeg matches one segment where "*" stands for any run of characters.
func matchSeg(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// offered tells whether a path is in the globs ([] = everything).
func offered(globs []string, path string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if matchGlob(g, path) {
			return true
		}
	}
	return false
}
