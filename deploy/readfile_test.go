package deploy

import (
	"os"
	"testing"
)

// readFile is a file of the deployment (or the repository) the test cannot
// go on without.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
