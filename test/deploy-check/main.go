// deploy-check decodes every Kubernetes manifest it is given strictly against the API types of
// k8s.io/api (the kinds client-go's scheme knows), as the API server decodes with
// fieldValidation=Strict: an unknown, misspelled or mis-cased field, a duplicate key, a wrong value
// type or an unknown apiVersion/kind is an error. kubectl would only warn
// about some of these (or drop them silently with --validate=false); a load test that silently
// loses its TLS mount measures the wrong thing, so the test suite runs this over deploy/.
//
// Usage: deploy-check <file.yaml|dir>...   exit 0: every document decoded; 1: errors on stderr.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: deploy-check <file.yaml|dir>...")
		os.Exit(2)
	}
	var files []string
	for _, arg := range os.Args[1:] {
		err := filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	failed := false
	docs := 0
	for _, f := range files {
		n, errs := checkFile(f)
		docs += n
		for _, e := range errs {
			failed = true
			fmt.Fprintln(os.Stderr, e)
		}
	}
	fmt.Printf("%d files, %d documents\n", len(files), docs)
	if failed {
		os.Exit(1)
	}
}

func checkFile(path string) (int, []error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, []error{err}
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var errs []error
	n := 0
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, append(errs, fmt.Errorf("%s: document %d: %w", path, i, err))
		}
		if isEmpty(doc) {
			continue
		}
		n++
		if err := checkDoc(doc); err != nil {
			errs = append(errs, fmt.Errorf("%s: document %d: %w", path, i, err))
		}
	}
	return n, errs
}

// isEmpty: only comments and blank lines (a leading comment block, or a trailing ---).
func isEmpty(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") && t != "---" {
			return false
		}
	}
	return true
}

func checkDoc(doc []byte) error {
	var tm typeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return fmt.Errorf("apiVersion and kind are required")
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return err
	}
	gvk := gv.WithKind(tm.Kind)
	obj, err := scheme.Scheme.New(gvk)
	if err != nil {
		return fmt.Errorf("%s: not a Kubernetes API type: %w", gvk, err)
	}
	// Duplicate keys fail the YAML-to-JSON step; then the API server's own strict JSON decoding:
	// field names matched case-sensitively, each unknown or mis-cased field an error with its path.
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return fmt.Errorf("%s %s: %w", tm.Kind, nameOf(doc), err)
	}
	strict, err := kjson.UnmarshalStrict(js, obj)
	if err != nil {
		return fmt.Errorf("%s %s: %w", tm.Kind, nameOf(doc), err)
	}
	if len(strict) > 0 {
		return fmt.Errorf("%s %s: %w", tm.Kind, nameOf(doc), errors.Join(strict...))
	}
	return nil
}

func nameOf(doc []byte) string {
	var m struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	_ = yaml.Unmarshal(doc, &m)
	return m.Metadata.Name
}
