package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"sync"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// static holds the player's script and style sheet, and hls.js under
// vendor/hls.js/ (with its licence).
//
//go:embed static
var static embed.FS

// staticFile is one embedded file with the ETag that lets browsers
// revalidate it cheaply (embedded files have no modification time).
type staticFile struct {
	data []byte
	etag string
}

var (
	staticOnce  sync.Once
	staticFiles map[string]staticFile
)

func loadStatic() {
	staticFiles = map[string]staticFile{}
	_ = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(b)
		staticFiles[p[len("static/"):]] = staticFile{data: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
}

// serveStatic answers /static/name from the embedded files.
func serveStatic(w http.ResponseWriter, r *http.Request, name string) {
	staticOnce.Do(loadStatic)
	f, ok := staticFiles[path.Clean(name)]
	if !ok || name == "" {
		gateway.WriteError(w, http.StatusNotFound, "not_found", "no such static file")
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	// ServeContent sets the type from the extension and answers
	// If-None-Match and Range.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}
