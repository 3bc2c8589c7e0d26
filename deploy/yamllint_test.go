package deploy

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestYamllint runs yamllint (Python's YAML parser, not the Go one the other
// tests use) over every YAML file here, strictly: a file that yaml.v3
// happens to accept but other tools would read differently (duplicate keys,
// bad indentation, tabs) fails.
func TestYamllint(t *testing.T) {
	bin := testpeer.Path(t, "yamllint")
	out, err := exec.Command(bin, "-s", "-f", "parsable", "-c", ".yamllint", "compose.yml", "compose", "k8s", "testdata").CombinedOutput()
	if err != nil {
		t.Fatalf("yamllint: %v\n%s", err, out)
	}
}

// TestYamllintCatches: yamllint with our settings refuses a duplicate key.
func TestYamllintCatches(t *testing.T) {
	bin := testpeer.Path(t, "yamllint")
	cmd := exec.Command(bin, "-s", "-c", ".yamllint", "-")
	cmd.Stdin = strings.NewReader("a: 1\na: 2\n")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("yamllint accepted a duplicate key: %s", out)
	}
}
