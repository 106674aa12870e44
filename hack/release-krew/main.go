// Command release-krew renders the krew manifest of the kubectl ocs plugin (plugins/ocs.yaml, a
// krew-release-bot template) for a release: the version, each archive's URI under the release's
// download URL and the archive's sha256, read from the local archives, so no network is needed.
//
//	go run ./hack/release-krew --template plugins/ocs.yaml --version v1.2.3 \
//	  --release-url https://github.com/ocsha/ocs-ha-operator/releases/download/v1.2.3 \
//	  --archives dist --out dist/ocs.yaml
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"
)

func main() {
	var o options
	flag.StringVar(&o.template, "template", "plugins/ocs.yaml", "The krew-release-bot template.")
	flag.StringVar(&o.version, "version", "", "The release's tag, vX.Y.Z.")
	flag.StringVar(&o.releaseURL, "release-url", "", "Where the archives are downloaded from; empty keeps the template's URIs.")
	flag.StringVar(&o.archives, "archives", "dist", "The directory holding the archives the template names.")
	flag.StringVar(&o.out, "out", "dist/ocs.yaml", "The rendered manifest.")
	flag.Parse()
	if err := o.run(); err != nil {
		fmt.Fprintln(os.Stderr, "release-krew:", err)
		os.Exit(1)
	}
}

type options struct {
	template, version, releaseURL, archives, out string
}

func (o options) run() error {
	if o.version == "" {
		return fmt.Errorf("--version is required")
	}
	tmpl, err := os.ReadFile(o.template)
	if err != nil {
		return err
	}
	out, err := render(string(tmpl), o.version, o.releaseURL, o.archives)
	if err != nil {
		return err
	}
	return os.WriteFile(o.out, out, 0o644)
}

// render executes a krew-release-bot template as the bot does ({{ .TagName }}, and
// addURIAndSha writing a uri: line and a sha256: line indented by four spaces), taking each
// sha256 from the archive of the same file name in archives and, when releaseURL is set,
// pointing the uri at releaseURL.
func render(tmpl, version, releaseURL, archives string) ([]byte, error) {
	funcs := template.FuncMap{"addURIAndSha": func(uri, tag string) (string, error) {
		var b strings.Builder
		t, err := template.New("uri").Parse(uri)
		if err != nil {
			return "", err
		}
		if err := t.Execute(&b, struct{ TagName string }{tag}); err != nil {
			return "", err
		}
		name := path.Base(b.String())
		if releaseURL != "" {
			b.Reset()
			b.WriteString(strings.TrimSuffix(releaseURL, "/") + "/" + name)
		}
		sum, err := fileSHA256(filepath.Join(archives, name))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("uri: %s\n    sha256: %s", b.String(), sum), nil
	}}
	t, err := template.New("krew").Funcs(funcs).Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("parsing the template: %w", err)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, struct{ TagName string }{version}); err != nil {
		return nil, fmt.Errorf("rendering the template: %w", err)
	}
	return dropLeadingComments(out.Bytes()), nil
}

// dropLeadingComments removes the template's header comment, which speaks of the template.
func dropLeadingComments(b []byte) []byte {
	for bytes.HasPrefix(b, []byte("#")) {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil
		}
		b = b[i+1:]
	}
	return b
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("the manifest names an archive the release lacks: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
