package backends

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// Config is a target as a workload defines it (schema.#Target): a URI,
// and the options an object store needs beyond it. It is the one Go
// definition of the target options: the workload decodes into it, the
// planner resolves it (Resolve) and backends open from it. Secrets are
// never part of a Config: it names the environment variables that hold
// them.
type Config struct {
	URI string `json:"uri"`
	// Client picks the client library where a scheme has two ("aws" or
	// "minio" for s3); "" is the scheme's default.
	Client string `json:"client,omitempty"`
	// Endpoints are base URLs ("http://10.0.0.1:9000"); a workload's
	// entries may be comma-separated lists and ranges, and EndpointsFile
	// a file of them, which Resolve expands into this list. Empty means
	// the client's default (environment, profile, the public service).
	Endpoints     []string `json:"endpoints,omitempty"`
	EndpointsFile string   `json:"endpoints_file,omitempty"`
	// Strategy spreads requests over several endpoints: "round-robin"
	// (default), "least-outstanding" or "rank" (rank mod N, see WithRank).
	Strategy string `json:"strategy,omitempty"`
	Region   string `json:"region,omitempty"`
	// PathStyle addresses buckets as endpoint/bucket/key rather than
	// bucket.endpoint/key; most on-premises stores need it.
	PathStyle bool `json:"path_style,omitempty"`
	// CAFile is a PEM bundle of extra certificate authorities to trust;
	// InsecureSkipVerify disables certificate checks and is honoured only
	// because the workload asked for it in so many words.
	CAFile             string `json:"ca_file,omitempty"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty"`
	// PartBytes and PartConcurrency shape multipart uploads; SplitBytes is
	// the size above which one read is split into ranged requests served
	// in parallel (SplitConcurrency at a time). Zero takes the default.
	PartBytes        int64 `json:"part_bytes,omitempty"`
	PartConcurrency  int   `json:"part_concurrency,omitempty"`
	SplitBytes       int64 `json:"split_bytes,omitempty"`
	SplitConcurrency int   `json:"split_concurrency,omitempty"`
	// StallTimeout is how long a request to an object store may make no
	// progress (no byte sent or received while the store is the one to
	// move) before it fails as stalled: a Go duration such as "30s"; ""
	// takes objstore.DefaultStallTimeout.
	StallTimeout string `json:"stall_timeout,omitempty"`
	// MetadataCredentials lets the SDK ask the cloud's instance metadata
	// service (169.254.169.254, the GCE metadata server) for credentials;
	// without it no request goes there, so a machine without credentials
	// fails at once with a message rather than waiting on an address that
	// off the cloud leads nowhere, or worse, somewhere.
	MetadataCredentials bool `json:"metadata_credentials,omitempty"`
	// AccessKeyEnv and SecretKeyEnv name environment variables holding the
	// credentials, when they are not the store's standard ones.
	AccessKeyEnv string `json:"access_key_env,omitempty"`
	SecretKeyEnv string `json:"secret_key_env,omitempty"`
}

// configFields are Config's options, by their workload names, in the
// order the type declares them: the names come from the JSON tags, so the
// list cannot drift from the type.
var configFields = func() []configField {
	var out []configField
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "uri" {
			out = append(out, configField{name, i})
		}
	}
	return out
}()

type configField struct {
	name  string
	index int // in Config's fields
}

// optionNames lists every option a Config has beyond uri.
func optionNames() []string {
	out := make([]string, len(configFields))
	for i, f := range configFields {
		out[i] = f.name
	}
	return out
}

// set lists the options c sets, by their workload names.
func (c *Config) set() []string {
	v := reflect.ValueOf(c).Elem()
	var out []string
	for _, f := range configFields {
		if !v.Field(f.index).IsZero() {
			out = append(out, f.name)
		}
	}
	return out
}

var rangeRE = regexp.MustCompile(`\{(\d+)\.\.\.(\d+)\}`)

// ExpandEndpoints turns the endpoints a workload gives into a list of base
// URLs: each entry may be a comma-separated list and may hold one
// {first...last} range ("http://10.0.0.{1...8}:9000" is eight endpoints,
// zero-padded when first is), and file names the file of endpoints, one
// per line ('#' starts a comment). Every endpoint must be an http or https
// URL without credentials or a path.
func ExpandEndpoints(list []string, file string) ([]string, error) {
	var raw []string
	for _, e := range list {
		raw = append(raw, strings.Split(e, ",")...)
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("endpoints file: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			raw = append(raw, line)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("endpoints file %s: %w", file, err)
		}
	}
	var out []string
	for _, e := range raw {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		expanded, err := expandRange(e)
		if err != nil {
			return nil, err
		}
		for _, x := range expanded {
			if err := checkEndpoint(x); err != nil {
				return nil, err
			}
			out = append(out, strings.TrimSuffix(x, "/"))
		}
	}
	if (len(list) > 0 || file != "") && len(out) == 0 {
		return nil, errors.New("endpoints: the list is empty")
	}
	return out, nil
}

func expandRange(e string) ([]string, error) {
	m := rangeRE.FindStringSubmatchIndex(e)
	if m == nil {
		if strings.ContainsAny(e, "{}") {
			return nil, fmt.Errorf("endpoint %q: a range is written {first...last}, as in http://host{1...4}:9000", e)
		}
		return []string{e}, nil
	}
	lo, hi := e[m[2]:m[3]], e[m[4]:m[5]]
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a > b || b-a >= 10000 {
		return nil, fmt.Errorf("endpoint %q: range {%s...%s} must count up, at most 10000 values", e, lo, hi)
	}
	width := 0
	if len(lo) > 1 && lo[0] == '0' {
		width = len(lo)
	}
	var out []string
	for i := a; i <= b; i++ {
		rest, err := expandRange(e[m[1]:])
		if err != nil {
			return nil, err
		}
		for _, r := range rest {
			out = append(out, fmt.Sprintf("%s%0*d%s", e[:m[0]], width, i, r))
		}
	}
	return out, nil
}

func checkEndpoint(e string) error {
	u, err := url.Parse(e)
	switch {
	case err != nil:
		return fmt.Errorf("endpoint %q is not a URL", redact(e))
	case u.User != nil:
		return fmt.Errorf("endpoint %q carries credentials; give them in the environment", redactURL(u))
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("endpoint %q: want an http:// or https:// URL such as http://127.0.0.1:9000", e)
	case u.Host == "":
		return fmt.Errorf("endpoint %q has no host", e)
	case u.Path != "" && u.Path != "/", u.RawQuery != "":
		return fmt.Errorf("endpoint %q: give only scheme, host and port; the bucket goes in the target URI", e)
	}
	return nil
}

type rankKey struct{}

// WithRank marks ctx as the context of one emulated accelerator, so a
// backend spreading requests over endpoints by rank ("rank" strategy)
// sends this rank's requests to endpoint rank mod N.
func WithRank(ctx context.Context, rank int) context.Context {
	return context.WithValue(ctx, rankKey{}, rank)
}

// RankOf returns the rank WithRank set, or -1.
func RankOf(ctx context.Context) int {
	if r, ok := ctx.Value(rankKey{}).(int); ok {
		return r
	}
	return -1
}
