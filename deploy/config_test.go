package deploy

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/skyrelay/skyrelay/conf"
)

// notYetInConf lists config keys the manifests may use that this wave adds
// to conf on other branches (cluster, TLS, recording, GB28181 cascade).
// While conf does not know a key, loadConfig takes it out before conf's
// strict parse; once conf knows it, conf checks it like any other key and
// the entry here is dead: TestNotYetInConf logs it so it can be removed.
// An entry names a key, or a whole section ("record").
var notYetInConf = []string{
	"tls.cert_file", "tls.key_file",
	"http.tls_listen", "rtmp.tls_listen", "rtsp.tls_listen", "mqtt.embedded.tls_listen",
	"record",
	"gb28181.upstreams",
}

// gatewayConfig is one Skyrelay config found in a manifest.
type gatewayConfig struct {
	where string         // the manifest it came from, for messages
	conf  conf.Config    // as conf loaded it (defaults filled in)
	raw   map[string]any // as written, for keys conf may not know yet
	// pending holds the notYetInConf keys taken out before conf parsed:
	// dotted path -> value (scalars only).
	pending map[string]string
	// parsed is the YAML conf parsed: the config without pending keys.
	parsed []byte
}

// loadConfig parses a gateway config with the project's own loader
// (conf.Parse: unknown keys, wrong types and impossible values refused),
// after taking out only the keys notYetInConf allows.
func loadConfig(where string, text []byte) (gatewayConfig, error) {
	g := gatewayConfig{where: where, pending: map[string]string{}}
	var root yaml.Node
	if err := yaml.Unmarshal(text, &root); err != nil {
		return g, fmt.Errorf("%s: %w", where, err)
	}
	if err := yaml.Unmarshal(text, &g.raw); err != nil {
		return g, fmt.Errorf("%s: %w", where, err)
	}
	if len(root.Content) == 1 {
		if err := stripPending(root.Content[0], reflect.TypeOf(conf.Config{}), "", g.pending); err != nil {
			return g, fmt.Errorf("%s: %w", where, err)
		}
	}
	b, err := yaml.Marshal(&root)
	if err != nil {
		return g, fmt.Errorf("%s: %w", where, err)
	}
	if len(root.Content) == 0 {
		b = nil
	}
	g.parsed = b
	g.conf, err = conf.Parse(b)
	if err != nil {
		return g, fmt.Errorf("%s: %w", where, err)
	}
	return g, nil
}

// stripPending removes from mapping n the keys that t (a conf struct type,
// nil for a section conf does not know) lacks and notYetInConf allows.
// Keys t lacks that are not allowed stay, for conf to refuse by name.
func stripPending(n *yaml.Node, t reflect.Type, path string, pending map[string]string) error {
	if n.Kind != yaml.MappingNode {
		if t == nil {
			return fmt.Errorf("%s: must be a mapping", path)
		}
		return nil // conf names the type error
	}
	var kept []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := joinKey(path, k.Value)
		if ft, ok := fieldType(t, k.Value); ok {
			switch {
			case ft.Kind() == reflect.Struct:
				if err := stripPending(v, ft, p, pending); err != nil {
					return err
				}
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && v.Kind == yaml.SequenceNode:
				for j, e := range v.Content {
					if err := stripPending(e, ft.Elem(), fmt.Sprintf("%s[%d]", p, j), pending); err != nil {
						return err
					}
				}
			}
			kept = append(kept, k, v)
			continue
		}
		switch {
		case allowedPending(p):
			if v.Kind == yaml.ScalarNode {
				pending[p] = v.Value
			}
		case parentOfPending(p):
			// A section conf does not know yet (cluster:): every key in it
			// must be allowed; then it goes as a whole.
			if err := stripPending(v, nil, p, pending); err != nil {
				return err
			}
		case t == nil:
			return fmt.Errorf("%s: unknown key (neither in conf nor in notYetInConf)", p)
		default:
			kept = append(kept, k, v) // conf refuses it with its own message
		}
	}
	n.Content = kept
	return nil
}

func allowedPending(p string) bool {
	for _, a := range notYetInConf {
		if p == a || strings.HasPrefix(p, a+".") || strings.HasPrefix(p, a+"[") {
			return true
		}
	}
	return false
}

func parentOfPending(p string) bool {
	for _, a := range notYetInConf {
		if strings.HasPrefix(a, p+".") {
			return true
		}
	}
	return false
}

// fieldType is the type of the field of struct t whose yaml key is key.
func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	if t == nil || t.Kind() != reflect.Struct {
		return nil, false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if yamlKey(f) == key {
			return f.Type, true
		}
	}
	return nil, false
}

// confKnows reports whether conf.Config has the dotted key path.
func confKnows(path string) bool {
	t := reflect.TypeOf(conf.Config{})
	for _, k := range strings.Split(path, ".") {
		ft, ok := fieldType(t, k)
		if !ok {
			return false
		}
		t = ft
	}
	return true
}

func yamlKey(f reflect.StructField) string {
	return strings.Split(f.Tag.Get("yaml"), ",")[0]
}

func joinKey(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// rawValue is the value at a dotted path of the config as written (nil if
// absent).
func (g gatewayConfig) rawValue(path string) any {
	var v any = g.raw
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
