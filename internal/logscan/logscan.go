// Package logscan checks that no secret a test minted or configured (a
// per-push secret, a password, a token) appears in what Skyrelay wrote: its
// log lines, its /metrics, its error bodies. A test adds every secret it
// hands out to a Secrets, runs its scenario, and calls Check on each text.
//
// Only _test.go files should import this package.
package logscan

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// MinLen is the shortest secret looked for: shorter values ("a", "1")
// would match innocent text by chance and prove nothing.
const MinLen = 6

// Secrets is the set of secrets a test handed out. Safe for concurrent use.
type Secrets struct {
	mu   sync.Mutex
	list []string
}

// Add remembers secrets; those shorter than MinLen fail the test, since a
// scan for them would be meaningless.
func (s *Secrets) Add(t testing.TB, secrets ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range secrets {
		if len(v) < MinLen {
			t.Fatalf("logscan: secret of %d bytes is too short to scan for; use at least %d", len(v), MinLen)
		}
		s.list = append(s.list, v)
	}
}

// AddFromURL remembers the secrets a URL handed to a device or viewer
// carries: the password of its userinfo and the values of the query keys
// secret, pass, password, jwt, token, key and sign. It returns how many it
// found.
func (s *Secrets) AddFromURL(t testing.TB, raw string) int {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("logscan: %v", err)
	}
	var found []string
	if p, ok := u.User.Password(); ok && p != "" {
		found = append(found, p)
	}
	for k, vs := range u.Query() {
		switch strings.ToLower(k) {
		case "secret", "pass", "password", "jwt", "token", "key", "sign":
			for _, v := range vs {
				if v != "" {
					found = append(found, v)
				}
			}
		}
	}
	s.Add(t, found...)
	return len(found)
}

// Len is how many secrets are looked for.
func (s *Secrets) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.list)
}

// forms are the ways a secret can show up in text: as is, URL-escaped
// (a logged URL or query), and base64 (a logged Basic authorization).
func forms(v string) []string {
	f := []string{v}
	if q := url.QueryEscape(v); q != v {
		f = append(f, q)
	}
	if p := url.PathEscape(v); p != v {
		f = append(f, p)
	}
	return f
}

// Leak is one place a secret was found.
type Leak struct {
	Source string // what was scanned: "log", "metrics", "GET /api/..."
	Line   int    // 1-based line number in the text
	Secret string // the secret, shortened to its first 3 bytes
	Text   string // the line with every secret replaced
}

func (l Leak) String() string {
	return fmt.Sprintf("%s line %d: secret %s... in %q", l.Source, l.Line, l.Secret, l.Text)
}

// Find returns every line of text that contains a secret as is,
// URL-escaped, or as the password of a Basic authorization (base64 of
// "user:secret").
func (s *Secrets) Find(source, text string) []Leak {
	s.mu.Lock()
	list := append([]string(nil), s.list...)
	s.mu.Unlock()
	var leaks []Leak
	for i, line := range strings.Split(text, "\n") {
		basic := decodedWords(line)
		for _, v := range list {
			hit := false
			for _, f := range forms(v) {
				hit = hit || strings.Contains(line, f)
			}
			for _, b := range basic {
				hit = hit || strings.HasSuffix(b, ":"+v)
			}
			if hit {
				leaks = append(leaks, Leak{Source: source, Line: i + 1, Secret: v[:3], Text: redact(line, list)})
			}
		}
	}
	return leaks
}

// decodedWords returns the words of line that are standard base64 (what a
// logged Authorization: Basic header would hold), decoded.
func decodedWords(line string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(line, func(r rune) bool { return strings.ContainsRune(" \t\"',;()[]{}", r) }) {
		if len(w) < 8 {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(w); err == nil {
			out = append(out, string(b))
		} else if b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(w, "=")); err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

// Check fails the test for every leak in text, naming where without
// repeating the secret.
func (s *Secrets) Check(t testing.TB, source, text string) {
	t.Helper()
	for _, l := range s.Find(source, text) {
		t.Errorf("logscan: a secret leaked: %s", l)
	}
}

func redact(line string, list []string) string {
	for _, v := range list {
		for _, f := range forms(v) {
			line = strings.ReplaceAll(line, f, "[SECRET]")
		}
	}
	return line
}

// credentialKeys are query and log keys whose value is a credential.
var credentialKeys = regexp.MustCompile(`(?i)\b(secret|password|pass|passwd|jwt|token|api_token|agentPassword)=("[^"]*"|[^&\s"',;)]*)`)

// FindCredentialValues returns the lines of text that show a value for a
// credential key (secret=…, password=…, jwt=…) other than a redaction
// (REDACTED, ***, an empty value). Unlike Find it needs no list of the
// secrets: it is what a test can check when the secrets were minted inside
// the process under test (per-push secrets handed to a device).
func FindCredentialValues(source, text string) []Leak {
	var leaks []Leak
	for i, line := range strings.Split(text, "\n") {
		for _, m := range credentialKeys.FindAllStringSubmatch(line, -1) {
			v := strings.Trim(m[2], `"`)
			placeholder := strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">")
			if v == "" || strings.Trim(v, "*") == "" || v == "REDACTED" || v == "[SECRET]" || placeholder {
				continue
			}
			short := v
			if len(short) > 3 {
				short = short[:3]
			}
			leaks = append(leaks, Leak{Source: source, Line: i + 1, Secret: short,
				Text: strings.ReplaceAll(line, v, "[SECRET]")})
		}
	}
	return leaks
}
