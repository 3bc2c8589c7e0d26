package deploy

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

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
	b := readFile(t, "../go.mod")
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
	b := readFile(t, "Dockerfile")
	for _, e := range checkDockerfile(string(b), goDirective(t), imageConfigs(t)) {
		t.Error("Dockerfile: " + e)
	}
}

// TestDockerfileChecks breaks the real Dockerfile in one way at a time and
// expects checkDockerfile to say so: the checks above are not vacuous.
func TestDockerfileChecks(t *testing.T) {
	b := readFile(t, "Dockerfile")
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
