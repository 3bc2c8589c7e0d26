package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
	line int
}

// stage is one FROM and what follows it.
type stage struct {
	image string // after global ARG substitution
	name  string // AS name, or ""
	ins   []instruction
}

// parseDockerfile reads the Dockerfile syntax the project uses: comments,
// parser directives (as comments), backslash continuations, global ARGs
// before the first FROM (substituted into FROM), and stages.
func parseDockerfile(text string) ([]stage, error) {
	var stages []stage
	globals := map[string]string{}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		for strings.HasSuffix(l, "\\") && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			if strings.HasPrefix(next, "#") {
				next = "" // comment lines inside a continuation are dropped
			}
			l = strings.TrimSuffix(l, "\\") + " " + next
		}
		l = strings.TrimSuffix(l, "\\")
		cmd, args, _ := strings.Cut(l, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			var flagsDone []string
			for _, w := range f {
				if !strings.HasPrefix(w, "--") {
					flagsDone = append(flagsDone, w)
				}
			}
			if len(flagsDone) == 0 {
				return nil, fmt.Errorf("line %d: FROM without an image", start)
			}
			st := stage{image: expandArgs(flagsDone[0], globals)}
			if len(flagsDone) == 3 && strings.EqualFold(flagsDone[1], "AS") {
				st.name = flagsDone[2]
			} else if len(flagsDone) != 1 {
				return nil, fmt.Errorf("line %d: FROM %s: want IMAGE [AS NAME]", start, in.args)
			}
			stages = append(stages, st)
		case len(stages) == 0:
			if in.cmd != "ARG" {
				return nil, fmt.Errorf("line %d: %s before the first FROM", start, in.cmd)
			}
			k, v, _ := strings.Cut(in.args, "=")
			globals[strings.TrimSpace(k)] = strings.TrimSpace(v)
		default:
			stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
		}
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return stages, nil
}

var argRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

func expandArgs(s string, vars map[string]string) string {
	return argRef.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.Trim(m, "${}")
		return vars[name]
	})
}

// exposed is every port a stage's EXPOSE lines declare.
func (s stage) exposed() (portSet, error) {
	out := portSet{}
	for _, in := range s.ins {
		if in.cmd != "EXPOSE" {
			continue
		}
		for _, w := range strings.Fields(in.args) {
			lo, hi, proto, err := parsePortSpec(w)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", in.line, err)
			}
			for n := lo; n <= hi; n++ {
				out.add(n, proto, "EXPOSE line "+fmt.Sprint(in.line))
			}
		}
	}
	return out, nil
}

// execForm reads a JSON-array CMD or ENTRYPOINT.
func (s stage) execForm(cmd string) ([]string, error) {
	var out []string
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = nil
			if err := json.Unmarshal([]byte(in.args), &out); err != nil {
				return nil, fmt.Errorf("line %d: %s must be in exec (JSON) form: %v", in.line, cmd, err)
			}
		}
	}
	return out, nil
}

// copySource finds the COPY whose destination is dst and returns its
// --from stage and source.
func (s stage) copySource(dst string) (from, src string, ok bool) {
	for _, in := range s.ins {
		if in.cmd != "COPY" {
			continue
		}
		var words []string
		from = ""
		for _, w := range strings.Fields(in.args) {
			if v, isFrom := strings.CutPrefix(w, "--from="); isFrom {
				from = v
			} else if !strings.HasPrefix(w, "--") {
				words = append(words, w)
			}
		}
		if len(words) == 2 && path.Clean(words[1]) == path.Clean(dst) {
			return from, words[0], true
		}
	}
	return "", "", false
}

func (s stage) workdir() string {
	w := "/"
	for _, in := range s.ins {
		if in.cmd == "WORKDIR" {
			w = path.Join(w, in.args)
		}
	}
	return w
}

func (s stage) runs(substr string) bool {
	for _, in := range s.ins {
		if (in.cmd == "RUN" || in.cmd == "ENV") && strings.Contains(in.args, substr) {
			return true
		}
	}
	return false
}

func TestParseDockerfile(t *testing.T) {
	for _, c := range []struct {
		name, text string
		stages     int
		first      string
		err        bool
	}{
		{"global arg", "ARG V=1.2\nFROM golang:${V} AS b\nRUN x\nFROM scratch\n", 2, "golang:1.2", false},
		{"continuation", "FROM a\nRUN one \\\n  # note\n  two\nEXPOSE 1/udp \\\n 2\n", 1, "a", false},
		{"directive", "# syntax=docker/dockerfile:1\nFROM --platform=$BUILDPLATFORM a AS b\n", 1, "a", false},
		{"before from", "RUN x\nFROM a\n", 0, "", true},
		{"empty", "# nothing\n", 0, "", true},
		{"bad from", "FROM a b c d\n", 0, "", true},
		{"trailing backslash", "FROM a\nRUN x \\", 1, "a", false},
	} {
		st, err := parseDockerfile(c.text)
		if (err != nil) != c.err {
			t.Errorf("%s: err %v, want error %v", c.name, err, c.err)
			continue
		}
		if err == nil && (len(st) != c.stages || st[0].image != c.first) {
			t.Errorf("%s: got %d stages, first %q", c.name, len(st), st[0].image)
		}
	}
	st, _ := parseDockerfile("FROM a\nEXPOSE 1/udp \\\n 2\n")
	if ps, err := st[0].exposed(); err != nil || len(ps) != 2 || ps[port{2, "tcp"}] == "" {
		t.Errorf("continued EXPOSE: %v %v", ps, err)
	}
}

func FuzzParseDockerfile(f *testing.F) {
	if b, err := os.ReadFile("Dockerfile"); err == nil {
		f.Add(string(b))
	}
	f.Add("FROM a\nEXPOSE 1-2/udp \\\n")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseDockerfile(s)
		if err != nil {
			return
		}
		for _, x := range st {
			_, _ = x.exposed()
			_, _ = x.execForm("CMD")
			x.copySource("/a")
			x.workdir()
		}
	})
}
