package secret

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"s3://ak:hunter2pw@bucket/p", "s3://REDACTED@bucket/p"},
		{`endpoint "http://user@127.0.0.1:9000" refused`, `endpoint "http://REDACTED@127.0.0.1:9000" refused`},
		{"https://acct.blob.core.windows.net/c?sv=2024&sig=abc%2Fdef&se=x", "https://acct.blob.core.windows.net/c?sv=2024&sig=REDACTED&se=x"},
		{"GET /b/k?X-Amz-Credential=AKIA/x&X-Amz-Signature=0123abcd", "GET /b/k?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"},
		{"DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=Eby8vdM02x==;BlobEndpoint=http://h", "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=REDACTED;BlobEndpoint=http://h"},
		{"--set targets.t.region=password=swordfish", "--set targets.t.region=password=REDACTED"},
		{`token="abc def"`, `token="REDACTED def"`},
		{"Authorization: AWS4-HMAC-SHA256 Credential=AKIA/20260101, Signature=ff", "Authorization: REDACTED"},
		// Left alone: names of variables, ordinary fields, plain URLs.
		{"--set targets.t.secret_key_env=MY_SECRET_VAR", "--set targets.t.secret_key_env=MY_SECRET_VAR"},
		{"max_tokens=128 tokens=5", "max_tokens=128 tokens=5"},
		{"file:///data/mlps and http://127.0.0.1:9000/bucket", "file:///data/mlps and http://127.0.0.1:9000/bucket"},
		{"e-mail a@b.c", "e-mail a@b.c"},
		{"", ""},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		if got := Redact(Redact(c.in)); got != c.want {
			t.Errorf("Redact is not idempotent on %q: %q", c.in, got)
		}
	}
}

func TestRedactKnownValues(t *testing.T) {
	t.Setenv("MLPS_TEST_PASSWORD", "correct-horse-battery")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG")
	t.Setenv("MLPS_TEST_SHORT_TOKEN", "abc") // too short to hide everywhere
	envOnce = sync.Once{}
	fromEnv = nil
	Register("registered-by-workload")
	in := "a correct-horse-battery b wJalrXUtnFEMI/K7MDENG c registered-by-workload d abc"
	want := "a REDACTED b REDACTED c REDACTED d abc"
	if got := Redact(in); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestInURI(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"s3://ak:sk@bucket", "a user name or password"},
		{"http://u@h:1", "a user name or password"},
		{"s3://bucket/p?X-Amz-Signature=x", "a credential in its query (X-Amz-Signature)"},
		{"az://c?sv=1&sig=x", "a credential in its query (sig)"},
		{"file:///data?token=x", "a credential in its query (token)"},
		{"s3://bucket/p", ""},
		{"http://127.0.0.1:9000", ""},
		{"s3://bucket/p?versionId=3", ""},
	} {
		if got := InURI(c.in); got != c.want {
			t.Errorf("InURI(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w := Writer(&b)
	msg := "open s3://ak:sk-planted@bucket: denied\n"
	n, err := w.Write([]byte(msg))
	if err != nil || n != len(msg) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(msg))
	}
	if strings.Contains(b.String(), "sk-planted") || !strings.Contains(b.String(), "REDACTED") {
		t.Errorf("wrote %q", b.String())
	}
}

// FuzzRedact checks that redaction never panics, is idempotent, and that
// a password planted in a URI's userinfo never survives it.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"s3://a:b@c/d?sig=e", "AccountKey=x;", "plain text", "http://h/?token=t&x=y"} {
		f.Add(s, "planted-pw-1")
	}
	f.Fuzz(func(t *testing.T, s, pw string) {
		r := Redact(s)
		if Redact(r) != r {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, r, Redact(r))
		}
		if strings.ContainsAny(pw, "/?#@ \t\n\f\r\"'<>:") || len(pw) < 4 {
			return
		}
		u := "s3://user:" + pw + "@bucket/key"
		if got := Redact(s + " " + u); strings.Contains(got, pw) && !strings.Contains(Redact(s), pw) {
			t.Fatalf("password survived in %q", got)
		}
	})
}
