// Package secret finds credentials in text and hides them, so that no
// message, log line or results file of mlps carries one. Workloads never
// hold credentials (they name environment variables); this is the net
// under that rule for what a user types anyway: a password in a URI, a
// signature or token in a query string, a key=value pair pasted from a
// connection string, or the value of a credential variable that a
// library echoes back.
package secret

import (
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Mask replaces every credential Redact finds.
const Mask = "REDACTED"

var (
	// userinfo is the user[:password]@ of a URI. Some schemes carry a
	// key in the user name, so all of it goes.
	userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s"'<>]*@`)
	// param is a query parameter or key=value pair whose name ends in a
	// word that says it holds a credential (X-Amz-Signature, sig, token,
	// AccountKey, password, client_secret...). The name must end at the
	// = so that secret_key_env, which names a variable and holds no
	// secret, and max_tokens are left alone.
	param = regexp.MustCompile(`(?i)((?:^|[?&;,=\s"'(\[])(?:[\w.-]*(?:signature|credential|secret|passw(?:or)?d|pwd|token|accountkey|secret_?(?:access_?)?key|api_?key|private_?key|auth)|sig|key)\s*=\s*)("?)([^&;,\s"'#<>)\]]+)`)
	// header is an HTTP Authorization header as SDK debug output prints it.
	header = regexp.MustCompile(`(?i)(authorization:\s*)\S.*`)
)

// Redact returns s with every credential it can recognise replaced by
// REDACTED: URI userinfo, credential-named parameters, Authorization
// headers, and the values of credential environment variables.
func Redact(s string) string {
	s = userinfo.ReplaceAllString(s, "${1}"+Mask+"@")
	s = param.ReplaceAllStringFunc(s, func(m string) string {
		sub := param.FindStringSubmatch(m)
		if sub[3] == Mask {
			return m
		}
		return sub[1] + sub[2] + Mask
	})
	s = header.ReplaceAllString(s, "${1}"+Mask)
	for _, v := range known() {
		s = strings.ReplaceAll(s, v, Mask)
	}
	return s
}

// RedactBytes is Redact for file contents; it returns b itself when
// there is nothing to hide.
func RedactBytes(b []byte) []byte {
	r := Redact(string(b))
	if r == string(b) {
		return b
	}
	return []byte(r)
}

// InURI says what credential a URI or endpoint carries, or "" when it
// carries none: "a user name or password" for userinfo, or the name of
// the query parameter that holds a credential.
func InURI(raw string) string {
	if userinfo.MatchString(raw) {
		return "a user name or password"
	}
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return ""
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return ""
	}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if param.MatchString("?" + k + "=x") {
			return "a credential in its query (" + k + ")"
		}
	}
	return ""
}

// Writer returns a writer that redacts each write before passing it on.
// A message is one write (fmt.Fprintf makes one), so a credential is not
// split between two of them.
// When w is a file (a terminal), the writer keeps its Fd, so that
// whoever asks whether output goes to a terminal still can.
func Writer(w io.Writer) io.Writer {
	if f, ok := w.(fder); ok {
		return &fdWriter{writer{w}, f}
	}
	return &writer{w: w}
}

type fder interface{ Fd() uintptr }

type fdWriter struct {
	writer
	f fder
}

func (w *fdWriter) Fd() uintptr { return w.f.Fd() }

type writer struct{ w io.Writer }

func (w *writer) Write(p []byte) (int, error) {
	if _, err := w.w.Write(RedactBytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Variables are the environment variables whose values are credentials
// wherever they appear, beside those whose names say so (see known).
var Variables = []string{
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AZURE_STORAGE_KEY", "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_SAS_TOKEN", "AZURE_CLIENT_SECRET",
	"GOOGLE_OAUTH_ACCESS_TOKEN", "MINIO_ROOT_PASSWORD", "MINIO_SECRET_KEY",
}

// minKnown is the shortest variable value hidden wherever it appears:
// shorter ones ("1", "true") would blank out ordinary text.
const minKnown = 8

var (
	mu         sync.Mutex
	registered []string
	envOnce    sync.Once
	fromEnv    []string
)

// Register adds the value of a variable a workload names as holding a
// credential (secret_key_env), so that it is hidden wherever it appears.
func Register(value string) {
	if len(value) < minKnown {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	for _, v := range registered {
		if v == value {
			return
		}
	}
	registered = append(registered, value)
}

// credentialName says whether an environment variable's name marks its
// value as a credential.
var credentialName = regexp.MustCompile(`(?i)(secret|passw(or)?d|token|_key$|^key$|connection_string)`)

func known() []string {
	envOnce.Do(func() {
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			if len(v) >= minKnown && (credentialName.MatchString(k) || slices.Contains(Variables, k)) {
				fromEnv = append(fromEnv, v)
			}
		}
	})
	mu.Lock()
	defer mu.Unlock()
	out := append(append([]string(nil), fromEnv...), registered...)
	// Longest first, so that a value containing another is hidden whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
