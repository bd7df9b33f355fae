package results_test

import (
	"encoding/json"
	"strings"
	"testing"

	"mlps.dev/mlps/backends"
	_ "mlps.dev/mlps/backends/all"
	"mlps.dev/mlps/exec/results"
)

// The results say which targets were read without verifying the store's
// certificate, and which CA bundle the others trusted; a target that asked
// for neither shows neither.
func TestTargetTLS(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    backends.Config
		want []string
		not  []string
	}{
		{"insecure", backends.Config{URI: "s3://b", Endpoints: []string{"https://127.0.0.1:9000"}, InsecureSkipVerify: true},
			[]string{`"insecure_skip_verify":true`}, []string{"ca_file"}},
		{"plain", backends.Config{URI: "s3://b", Endpoints: []string{"https://127.0.0.1:9000"}},
			nil, []string{"insecure_skip_verify", "ca_file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := backends.Resolve(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(results.TargetOf(tg))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s does not hold %s", b, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(string(b), w) {
					t.Errorf("%s holds %s", b, w)
				}
			}
		})
	}
}
