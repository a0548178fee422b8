// render-chart prints a Helm chart's manifests the way `helm template` does, without helm
// (Debian does not package it): Go's text/template, the sprig functions, and Helm's own
// additions (include, tpl, required, toYaml, fromYaml, toJson, .Capabilities, .Template).
// Built offline from Debian's Go packages by scripts/render-chart.sh.
//
// Usage: render-chart CHART_DIR [-f VALUES]... [--set KEY=VALUE]... [--namespace NS]
//
//	[--release NAME] [--kube-version vX.Y.Z]
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver/v3"
	sprig "github.com/Masterminds/sprig/v3"
	yaml "gopkg.in/yaml.v2"
)

type kubeVersion struct {
	Version, Major, Minor, GitVersion string
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "Error: "+format+"\n", args...)
	os.Exit(1)
}

// normalize turns yaml.v2's map[interface{}]interface{} into map[string]interface{}, the
// shape Helm's values have (sprig's dict functions and dig need string keys).
func normalize(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, val := range t {
			m[fmt.Sprint(k)] = normalize(val)
		}
		return m
	case map[string]interface{}:
		for k, val := range t {
			t[k] = normalize(val)
		}
		return t
	case []interface{}:
		for i, val := range t {
			t[i] = normalize(val)
		}
		return t
	}
	return v
}

func readYaml(file string) map[string]interface{} {
	data, err := os.ReadFile(file)
	if err != nil {
		fatalf("%v", err)
	}
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		fatalf("%s: %v", file, err)
	}
	if raw == nil {
		return map[string]interface{}{}
	}
	m, ok := normalize(raw).(map[string]interface{})
	if !ok {
		fatalf("%s: the top level is not a mapping", file)
	}
	return m
}

// coalesce merges src over dst as Helm does: mappings merge key by key, anything else
// (lists included) replaces, and a null deletes the key.
func coalesce(dst, src map[string]interface{}) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			coalesce(dm, sm)
		} else {
			dst[k] = v
		}
	}
}

var intPattern = regexp.MustCompile(`^[-+]?[0-9]+$`)

// typed converts one --set value as Helm's strvals does.
func typed(s string) interface{} {
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if intPattern.MatchString(s) && (len(s) == 1 || s[0] != '0') {
		var n int64
		if _, err := fmt.Sscan(s, &n); err == nil {
			return n
		}
	}
	return s
}

// splitUnescaped splits on sep outside {...} lists, honouring backslash escapes.
func splitUnescaped(s string, sep byte) []string {
	var parts []string
	var cur strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
		case c == '{':
			depth++
			cur.WriteByte(c)
		case c == '}':
			depth--
			cur.WriteByte(c)
		case c == sep && depth == 0:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, cur.String())
}

func unescape(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		out.WriteByte(s[i])
	}
	return out.String()
}

var indexPattern = regexp.MustCompile(`^(.*)\[([0-9]+)\]$`)

// setValue applies one --set KEY=VALUE: dotted keys, name[N] list items, {a,b} lists.
func setValue(values map[string]interface{}, assignment string) {
	eq := strings.IndexByte(assignment, '=')
	if eq <= 0 {
		fatalf("--set %q: not KEY=VALUE", assignment)
	}
	key, raw := assignment[:eq], assignment[eq+1:]
	var value interface{}
	if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
		list := []interface{}{}
		if inner := raw[1 : len(raw)-1]; inner != "" {
			for _, item := range splitUnescaped(inner, ',') {
				list = append(list, typed(unescape(item)))
			}
		}
		value = list
	} else {
		value = typed(unescape(raw))
	}
	parts := splitUnescaped(key, '.')
	node := values
	for i, part := range parts {
		part = unescape(part)
		last := i == len(parts)-1
		if m := indexPattern.FindStringSubmatch(part); m != nil {
			var index int
			fmt.Sscan(m[2], &index)
			list, _ := node[m[1]].([]interface{})
			for len(list) <= index {
				list = append(list, nil)
			}
			node[m[1]] = list
			if last {
				list[index] = value
				return
			}
			child, ok := list[index].(map[string]interface{})
			if !ok {
				child = map[string]interface{}{}
				list[index] = child
			}
			node = child
			continue
		}
		if last {
			if value == nil {
				delete(node, part)
			} else {
				node[part] = value
			}
			return
		}
		child, ok := node[part].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			node[part] = child
		}
		node = child
	}
}

func toYaml(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

// Helm's install order, for the order manifests are printed in.
var kindOrder = []string{"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
	"PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
	"PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
	"ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
	"RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService"}

func kindRank(manifest string) int {
	var head struct{ Kind string }
	yaml.Unmarshal([]byte(manifest), &head)
	for i, kind := range kindOrder {
		if kind == head.Kind {
			return i
		}
	}
	return len(kindOrder)
}

type manifest struct {
	source, content string
	rank            int
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		fatalf("usage: render-chart CHART_DIR [-f VALUES]... [--set KEY=VALUE]...")
	}
	chartDir := args[0]
	release, namespace, kubeVer := "bpfproxy", "kube-system", "v1.30.0"
	var files, sets []string
	for i := 1; i < len(args); i++ {
		arg := args[i]
		next := func() string {
			if i+1 >= len(args) {
				fatalf("%s needs a value", arg)
			}
			i++
			return args[i]
		}
		name, inline, hasInline := strings.Cut(arg, "=")
		value := func() string {
			if hasInline {
				return inline
			}
			return next()
		}
		switch name {
		case "-f", "--values":
			files = append(files, value())
		case "--set":
			sets = append(sets, value())
		case "--namespace", "-n":
			namespace = value()
		case "--release":
			release = value()
		case "--kube-version":
			kubeVer = value()
		default:
			fatalf("unknown argument %q", arg)
		}
	}

	chart := readYaml(filepath.Join(chartDir, "Chart.yaml"))
	values := readYaml(filepath.Join(chartDir, "values.yaml"))
	for _, file := range files {
		coalesce(values, readYaml(file))
	}
	for _, set := range sets {
		for _, assignment := range splitUnescaped(set, ',') {
			setValue(values, assignment)
		}
	}

	kv, err := semver.NewVersion(kubeVer)
	if err != nil {
		fatalf("--kube-version %q: %v", kubeVer, err)
	}
	if constraint, ok := chart["kubeVersion"].(string); ok && constraint != "" {
		c, err := semver.NewConstraint(constraint)
		if err != nil {
			fatalf("Chart.yaml kubeVersion %q: %v", constraint, err)
		}
		if !c.Check(kv) {
			fatalf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", constraint, kubeVer)
		}
	}
	chartName, _ := chart["name"].(string)
	chartValues := map[string]interface{}{}
	for k, v := range chart { // Helm exposes Chart.yaml keys capitalised: .Chart.AppVersion
		chartValues[strings.ToUpper(k[:1])+k[1:]] = v
	}
	top := map[string]interface{}{
		"Values": values,
		"Chart":  chartValues,
		"Release": map[string]interface{}{
			"Name": release, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": kubeVersion{Version: "v" + kv.String(), Major: fmt.Sprint(kv.Major()),
				Minor: fmt.Sprint(kv.Minor()), GitVersion: "v" + kv.String()},
		},
	}

	basePath := path.Join(chartName, "templates")
	root := template.New("chart").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	includeDepth := 0
	funcs["include"] = func(name string, data interface{}) (string, error) {
		includeDepth++
		defer func() { includeDepth-- }()
		if includeDepth > 1000 {
			return "", fmt.Errorf("include %q: too deep", name)
		}
		var out bytes.Buffer
		if err := root.ExecuteTemplate(&out, name, data); err != nil {
			return "", err
		}
		return out.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var out bytes.Buffer
		if err := t.Execute(&out, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(out.String(), "<no value>", ""), nil
	}
	funcs["required"] = func(message string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, fmt.Errorf("%s", message)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, fmt.Errorf("%s", message)
		}
		return v, nil
	}
	funcs["toYaml"] = toYaml
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		var raw interface{}
		if err := yaml.Unmarshal([]byte(s), &raw); err != nil {
			return map[string]interface{}{"Error": err.Error()}
		}
		m, _ := normalize(raw).(map[string]interface{})
		return m
	}
	funcs["toJson"] = func(v interface{}) string {
		data, _ := json.Marshal(v)
		return string(data)
	}
	root.Funcs(funcs)

	templatesDir := filepath.Join(chartDir, "templates")
	entries, err := os.ReadDir(templatesDir)
	if err != nil {
		fatalf("%v", err)
	}
	var names []string
	for _, entry := range entries {
		if entry.IsDir() {
			continue
		}
		name := path.Join(basePath, entry.Name())
		data, err := os.ReadFile(filepath.Join(templatesDir, entry.Name()))
		if err != nil {
			fatalf("%v", err)
		}
		if _, err := root.New(name).Parse(string(data)); err != nil {
			fatalf("parse error: %v", err)
		}
		names = append(names, name)
	}
	sort.Strings(names)

	var manifests []manifest
	for _, name := range names {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" {
			continue
		}
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": name, "BasePath": basePath}
		var out bytes.Buffer
		if err := root.ExecuteTemplate(&out, name, data); err != nil {
			fatalf("execution error at (%s): %v", name, err)
		}
		text := strings.ReplaceAll(out.String(), "<no value>", "")
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(text, -1) {
			doc = strings.TrimSpace(doc)
			if doc == "" {
				continue
			}
			manifests = append(manifests, manifest{source: name, content: doc, rank: kindRank(doc)})
		}
	}
	sort.SliceStable(manifests, func(i, j int) bool { return manifests[i].rank < manifests[j].rank })
	for _, m := range manifests {
		fmt.Printf("---\n# Source: %s\n%s\n", m.source, m.content)
	}
}
