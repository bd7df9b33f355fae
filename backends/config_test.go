package backends

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExpandEndpoints(t *testing.T) {
	file := filepath.Join(t.TempDir(), "endpoints")
	os.WriteFile(file, []byte("# the rack\nhttp://10.0.1.1:9000\n\nhttp://10.0.1.2:9000 # spare\n"), 0o644)
	for _, tc := range []struct {
		name    string
		list    []string
		file    string
		want    string
		wantErr string
	}{
		{"list", []string{"http://a:9000", "https://b"}, "", "http://a:9000 https://b", ""},
		{"comma list", []string{"http://a:1,http://b:2"}, "", "http://a:1 http://b:2", ""},
		{"range", []string{"http://10.0.0.{1...3}:9000"}, "", "http://10.0.0.1:9000 http://10.0.0.2:9000 http://10.0.0.3:9000", ""},
		{"padded range", []string{"http://node{08...10}:9000"}, "", "http://node08:9000 http://node09:9000 http://node10:9000", ""},
		{"two ranges", []string{"http://h{1...2}:900{1...2}"}, "", "http://h1:9001 http://h1:9002 http://h2:9001 http://h2:9002", ""},
		{"file", nil, file, "http://10.0.1.1:9000 http://10.0.1.2:9000", ""},
		{"trailing slash", []string{"http://a:9000/"}, "", "http://a:9000", ""},
		{"none", nil, "", "", ""},
		{"not http", []string{"ftp://a"}, "", "", "want an http:// or https:// URL"},
		{"credentials", []string{"http://key:secret@a"}, "", "", "carries credentials"},
		{"bucket in endpoint", []string{"http://a:9000/bucket"}, "", "", "the bucket goes in the target URI"},
		{"backwards range", []string{"http://a{3...1}"}, "", "", "must count up"},
		{"bad range", []string{"http://a{1..3}"}, "", "", "a range is written {first...last}"},
		{"missing file", nil, "/no/such/file", "", "endpoints file"},
		{"empty", []string{" , "}, "", "", "the list is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ExpandEndpoints(tc.list, tc.file)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one saying %q", err, tc.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), "secret") {
					t.Errorf("error %v shows a secret", err)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestConfigSet(t *testing.T) {
	c := Config{URI: "s3://b", Client: "aws", Endpoints: []string{"http://a"}, PathStyle: true, SplitBytes: 1 << 20}
	if got := strings.Join(c.set(), " "); got != "client endpoints path_style split_bytes" {
		t.Errorf("set() = %q", got)
	}
	if n := len(optionNames()); n != 16 {
		t.Errorf("Config has %d options beyond uri, want the schema's 16: %v", n, optionNames())
	}
}
