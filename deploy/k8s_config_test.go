package deploy

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// placeholder is a __NAME__ the init container fills in.
var placeholder = regexp.MustCompile(`__[A-Z_]+__`)

// placeholderSamples are what the test puts where the init container
// would put the pod name and the node address.
var placeholderSamples = map[string]string{"__NODE_ID__": "skyrelay-0", "__PUBLIC_HOST__": "192.0.2.10"}

// k8sConfig follows the main container's -config to the volume it lives in,
// the init container that writes it, and the ConfigMap that init container
// reads; fills the placeholders as the init container would; loads it.
func k8sConfig(pod podSpec, main container, configMaps []k8sObject) (*gatewayConfig, []string) {
	argv := append(append([]string{}, main.Command...), main.Args...)
	cfg := ""
	for i := range argv {
		if argv[i] == "-config" && i+1 < len(argv) {
			cfg = argv[i+1]
		}
	}
	if cfg == "" {
		return nil, []string{"container skyrelay: no -config argument"}
	}
	vol := mountedAt(main, path.Dir(cfg))
	if vol == "" {
		return nil, []string{fmt.Sprintf("container skyrelay: nothing mounted at %s", path.Dir(cfg))}
	}
	cmVolumes := map[string]string{} // volume -> ConfigMap
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil {
			cmVolumes[v.Name] = v.ConfigMap.Name
		}
	}
	var text, script string
	if cm, ok := cmVolumes[vol]; ok {
		text = configMapData(configMaps, cm, path.Base(cfg)) // mounted as it is
	} else {
		for _, ic := range pod.InitContainers {
			out := mountedPath(ic, vol)
			sh := strings.Join(append(append([]string{}, ic.Command...), ic.Args...), " ")
			if out == "" || !strings.Contains(sh, "> "+path.Join(out, path.Base(cfg))) {
				continue
			}
			for _, m := range ic.VolumeMounts {
				if cm, ok := cmVolumes[m.Name]; ok && strings.Contains(sh, m.MountPath+"/") {
					key := strings.Fields(strings.SplitN(sh, m.MountPath+"/", 2)[1])[0]
					text, script = configMapData(configMaps, cm, key), sh
				}
			}
		}
	}
	if text == "" {
		return nil, []string{fmt.Sprintf("no ConfigMap provides %s (directly or through an init container)", cfg)}
	}
	var errs []string
	for _, ph := range placeholder.FindAllString(text, -1) {
		if !strings.Contains(script, ph) {
			errs = append(errs, fmt.Sprintf("config placeholder %s: nothing fills it in", ph))
		}
		sample, ok := placeholderSamples[ph]
		if !ok {
			errs = append(errs, fmt.Sprintf("config placeholder %s: the test has no sample value for it", ph))
		}
		text = strings.ReplaceAll(text, ph, sample)
	}
	g, err := loadConfig("k8s ConfigMap", []byte(text))
	if err != nil {
		return nil, append(errs, err.Error())
	}
	return &g, errs
}
