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

// dockerImage is what checkDockerfile learnt: the build's facts and the
// repository path of the config baked into the image.
type dockerImage struct {
	stages     []stage
	configPath string // repository-relative
}

// checkDockerfile checks the image's shape (multi-stage, static binary,
// non-root, a Go line matching go.mod) and that its EXPOSE lines are
// exactly the ports the given configs open.
func checkDockerfile(text, goDirective string, configsFor func(img dockerImage) ([]gatewayConfig, error)) []string {
	var errs []string
	stages, err := parseDockerfile(text)
	if err != nil {
		return []string{err.Error()}
	}
	if len(stages) < 2 {
		errs = append(errs, "not multi-stage: the toolchain must stay out of the image")
	}
	build, final := stages[0], stages[len(stages)-1]
	if !strings.HasPrefix(build.image, "golang:") {
		errs = append(errs, fmt.Sprintf("build stage FROM %s: want golang:", build.image))
	} else if want := goMinor(goDirective); !strings.HasPrefix(strings.TrimPrefix(build.image, "golang:"), want+"-") &&
		strings.TrimPrefix(build.image, "golang:") != want {
		errs = append(errs, fmt.Sprintf("build stage FROM %s: go.mod says go %s, want golang:%s", build.image, goDirective, want))
	}
	if !build.runs("CGO_ENABLED=0") || !build.runs("go build") || !build.runs("./cmd/skyrelay") {
		errs = append(errs, "build stage: want a static `CGO_ENABLED=0 go build ... ./cmd/skyrelay`")
	}
	if final.image != "scratch" && !strings.HasPrefix(final.image, "gcr.io/distroless/static") {
		errs = append(errs, fmt.Sprintf("final stage FROM %s: want scratch or distroless static (a static binary needs no libc)", final.image))
	}
	user := ""
	for _, in := range final.ins {
		if in.cmd == "USER" {
			user = strings.Split(in.args, ":")[0]
		}
	}
	if user == "" || user == "0" || user == "root" {
		errs = append(errs, fmt.Sprintf("final stage USER %q: want a non-root user", user))
	}
	entry, err1 := final.execForm("ENTRYPOINT")
	cmd, err2 := final.execForm("CMD")
	if err1 != nil || err2 != nil {
		return append(errs, fmt.Sprint(err1, err2))
	}
	argv := append(entry, cmd...)
	cfg := ""
	for i := range argv {
		if argv[i] == "-config" && i+1 < len(argv) {
			cfg = argv[i+1]
		}
	}
	from, src, ok := final.copySource(cfg)
	if cfg == "" || !ok || from == "" {
		return append(errs, fmt.Sprintf("the config %q the image starts with is not COPYed from a build stage", cfg))
	}
	img := dockerImage{stages: stages}
	for _, st := range stages {
		if st.name == from {
			img.configPath = strings.TrimPrefix(path.Clean(src), st.workdir()+"/")
		}
	}
	if img.configPath == "" || strings.HasPrefix(img.configPath, "/") {
		return append(errs, fmt.Sprintf("COPY --from=%s %s: not a file of the repository", from, src))
	}
	exposed, err := final.exposed()
	if err != nil {
		return append(errs, err.Error())
	}
	configs, err := configsFor(img)
	if err != nil {
		return append(errs, err.Error())
	}
	opened := portSet{}
	for _, g := range configs {
		ps, err := openedPorts(g)
		if err != nil {
			return append(errs, err.Error())
		}
		for p, by := range ps {
			opened[p] = g.where + ": " + by
		}
	}
	if m := opened.missingFrom(exposed); m != "" {
		errs = append(errs, "EXPOSE lacks "+m)
	}
	if m := exposed.missingFrom(opened); m != "" {
		errs = append(errs, "EXPOSE declares ports no config opens: "+m)
	}
	return errs
}

// goMinor turns go.mod's "1.26.8" into "1.26".
func goMinor(v string) string {
	parts := strings.Split(v, ".")
	if len(parts) > 2 {
		parts = parts[:2]
	}
	return strings.Join(parts, ".")
}

func goDirective(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go ([0-9.]+)\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// imageConfigs are the configs the image must declare ports for: the one
// it is built with, and testdata/every-listener.yml, which turns on every
// listener (TLS ones included) at the ports docs/configuration.md names.
func imageConfigs(t *testing.T) func(img dockerImage) ([]gatewayConfig, error) {
	return func(img dockerImage) ([]gatewayConfig, error) {
		var out []gatewayConfig
		for _, p := range []string{"../" + img.configPath, "testdata/every-listener.yml"} {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			g, err := loadConfig(p, withTestCert(t, b))
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	}
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range checkDockerfile(string(b), goDirective(t), imageConfigs(t)) {
		t.Error("Dockerfile: " + e)
	}
}

// TestDockerfileChecks breaks the real Dockerfile in one way at a time and
// expects checkDockerfile to say so: the checks above are not vacuous.
func TestDockerfileChecks(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	orig := string(b)
	for _, c := range []struct{ old, new, want string }{
		{"EXPOSE 8554/tcp 8000/udp 8001/udp", "EXPOSE 8554/tcp 8001/udp", "EXPOSE lacks 8000/udp"},
		{"EXPOSE 30000-30499/udp", "EXPOSE 30000-30498/udp", "EXPOSE lacks 30499/udp"},
		{"EXPOSE 1935/tcp", "EXPOSE 1935/tcp 9999/udp", "no config opens: 9999/udp"},
		{"EXPOSE 8443/tcp 1936/tcp", "EXPOSE 1936/tcp", "EXPOSE lacks 8443/tcp (testdata/every-listener.yml: http.tls_listen)"},
		{"USER 65532:65532", "USER root", "non-root"},
		{"USER 65532:65532", "", "non-root"},
		{"CGO_ENABLED=0 ", "", "static"},
		{"gcr.io/distroless/static-debian12:nonroot", "debian:bookworm-slim", "distroless static"},
		{"ARG GO_VERSION=1.26", "ARG GO_VERSION=1.22", "go.mod says go"},
		{"/etc/skyrelay/skyrelay.yml\n", "/etc/skyrelay/other.yml\n", "is not COPYed"},
		{`CMD ["-config", "/etc/skyrelay/skyrelay.yml"]`, `CMD -config /etc/skyrelay/skyrelay.yml`, "exec (JSON) form"},
	} {
		broken := strings.Replace(orig, c.old, c.new, 1)
		if broken == orig {
			t.Errorf("mutation %q not applied: the Dockerfile changed, update this test", c.old)
			continue
		}
		errs := checkDockerfile(broken, goDirective(t), imageConfigs(t))
		if !strings.Contains(strings.Join(errs, "\n"), c.want) {
			t.Errorf("replacing %q by %q: want an error containing %q, got %q", c.old, c.new, c.want, errs)
		}
	}
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
