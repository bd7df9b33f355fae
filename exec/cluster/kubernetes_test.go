package cluster

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue/cuecontext"
	cueyaml "cuelang.org/go/encoding/yaml"
)

// The shipped Indexed Job manifest parses, and its numbers agree: a
// headless Service whose name is the pods' subdomain, completions and
// parallelism equal to MLPS_WORLD, a coordinator at pod 0's stable name
// on the Service's port, where --bind listens, the token from a Secret;
// and PlaceOf places a pod of it.
func TestKubernetesManifest(t *testing.T) {
	src, err := os.ReadFile("kubernetes/indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type container struct {
		Args []string `json:"args"`
		Env  []struct {
			Name      string `json:"name"`
			Value     string `json:"value"`
			ValueFrom *struct {
				SecretKeyRef *struct{ Name, Key string } `json:"secretKeyRef"`
			} `json:"valueFrom"`
		} `json:"env"`
		Ports []struct {
			ContainerPort int `json:"containerPort"`
		} `json:"ports"`
	}
	type doc struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			ClusterIP      string            `json:"clusterIP"`
			Selector       map[string]string `json:"selector"`
			Ports          []struct{ Port int }
			CompletionMode string `json:"completionMode"`
			Completions    int    `json:"completions"`
			Parallelism    int    `json:"parallelism"`
			Template       struct {
				Spec struct {
					Subdomain  string      `json:"subdomain"`
					Containers []container `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	ctx := cuecontext.New()
	var svc, job doc
	for i, part := range strings.Split(string(src), "\n---\n") {
		f, err := cueyaml.Extract(fmt.Sprintf("indexed-job.yaml#%d", i), part)
		if err != nil {
			t.Fatal(err)
		}
		var d doc
		if err := ctx.BuildFile(f).Decode(&d); err != nil {
			t.Fatal(err)
		}
		switch d.Kind {
		case "Service":
			svc = d
		case "Job":
			job = d
		}
	}
	if svc.Spec.ClusterIP != "None" || len(svc.Spec.Ports) != 1 || svc.Spec.Selector["job-name"] != job.Metadata.Name {
		t.Fatalf("service: %+v", svc)
	}
	port := svc.Spec.Ports[0].Port
	spec := job.Spec.Template.Spec
	if job.Spec.CompletionMode != "Indexed" || job.Spec.Completions != job.Spec.Parallelism || spec.Subdomain != svc.Metadata.Name || len(spec.Containers) != 1 {
		t.Fatalf("job: %+v", job.Spec)
	}
	c := spec.Containers[0]
	env := map[string]string{}
	token := false
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.Name == "MLPS_CLUSTER_TOKEN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			token = true
		}
	}
	if env["MLPS_WORLD"] != fmt.Sprint(job.Spec.Completions) {
		t.Errorf("MLPS_WORLD %q, completions %d", env["MLPS_WORLD"], job.Spec.Completions)
	}
	if want := fmt.Sprintf("%s-0.%s:%d", job.Metadata.Name, spec.Subdomain, port); env["MLPS_COORDINATOR"] != want {
		t.Errorf("MLPS_COORDINATOR %q, want pod 0's name %q", env["MLPS_COORDINATOR"], want)
	}
	if !token {
		t.Error("MLPS_CLUSTER_TOKEN does not come from a Secret")
	}
	if i := slices.Index(c.Args, "--bind"); c.Args[0] != "exec" || i < 0 || c.Args[i+1] != fmt.Sprintf("0.0.0.0:%d", port) || len(c.Ports) != 1 || c.Ports[0].ContainerPort != port {
		t.Errorf("args %v, ports %+v: want mlps exec listening with --bind on the Service's port %d", c.Args, c.Ports, port)
	}
	env["JOB_COMPLETION_INDEX"] = "2"
	p, ok, err := PlaceOf(func(k string) string { return env[k] }, Flags{Rank: -1, World: -1})
	if err != nil || !ok || p.Proc != 2 || p.Procs != job.Spec.Completions || p.Launcher != "kubernetes" {
		t.Errorf("pod 2 placed as %+v, %v, %v", p, ok, err)
	}
}
