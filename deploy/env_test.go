package deploy

import (
	"os"
	"reflect"
	"testing"

	"github.com/skyrelay/skyrelay/conf"
)

// confReadsEnv reports whether conf takes a value from the environment
// variable name: a config loaded with it set differs from one without. A
// manifest that hands the gateway a secret under a name conf never reads
// would leave the secret unset without a word.
func confReadsEnv(t *testing.T, name string) bool {
	t.Helper()
	t.Setenv(name, "") // restores the caller's value afterwards
	os.Unsetenv(name)
	base, err := conf.Parse([]byte("mqtt:\n  broker: tcp://broker:1883\n"))
	if err != nil {
		t.Fatal(err)
	}
	os.Setenv(name, "deploy-test-marker")
	with, err := conf.Parse([]byte("mqtt:\n  broker: tcp://broker:1883\n"))
	if err != nil {
		t.Fatal(err)
	}
	return !reflect.DeepEqual(base, with)
}

func TestConfReadsEnv(t *testing.T) {
	if !confReadsEnv(t, "SKYRELAY_MQTT_PASSWORD") {
		t.Error("SKYRELAY_MQTT_PASSWORD: conf does not read it (docs/configuration.md says it does)")
	}
	if confReadsEnv(t, "SKYRELAY_NO_SUCH_VARIABLE") {
		t.Error("SKYRELAY_NO_SUCH_VARIABLE: read?")
	}
}
