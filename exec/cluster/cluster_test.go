package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// freeAddr is a loopback address no one listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

var testPlan = Plan{Hash: "abc123", Workload: "w", Version: "v1", Overrides: []string{"a=1"}}

// joinAll joins procs processes of ranks ranks each in this process, as
// goroutines, and returns them in process order.
func joinAll(t *testing.T, procs, ranks int, plan func(p int) Plan) ([]*Process, []context.Context, []error) {
	t.Helper()
	addr := freeAddr(t)
	ps := make([]*Process, procs)
	ctxs := make([]context.Context, procs)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps[i], ctxs[i], errs[i] = Join(context.Background(), Config{
				Place: Place{Proc: i, Procs: procs, Coordinator: addr, Launcher: "flags"},
				Ranks: ranks, Plan: plan(i), Host: Host{Hostname: fmt.Sprintf("host%d", i/2), CPUs: 2, MemoryBytes: 1 << 30},
				Token: "s3cret", JoinTimeout: 20 * time.Second,
			})
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, p := range ps {
			if p != nil {
				p.Close()
			}
		}
	})
	return ps, ctxs, errs
}

// Four processes of three ranks each meet, agree on who hosts which
// ranks, pass 200 barrier rounds whose every rank arrives before any
// leaves, gather one value each, and finish.
func TestBarriersAcrossProcesses(t *testing.T) {
	const procs, ranks, rounds = 4, 3, 200
	ps, _, errs := joinAll(t, procs, ranks, func(int) Plan { return testPlan })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	for i, p := range ps {
		if p.Ranks() != procs*ranks || p.FirstRank() != i*ranks || len(p.Members()) != procs || p.Members()[i].Host.Hostname != fmt.Sprintf("host%d", i/2) {
			t.Fatalf("process %d: %d ranks, first %d, members %+v", i, p.Ranks(), p.FirstRank(), p.Members())
		}
		if p.RTT <= 0 {
			t.Errorf("process %d: no clock round trip measured", i)
		}
	}
	// arrivals[r] counts every rank's arrivals at round r: when any rank
	// leaves round r, all procs × ranks must have arrived.
	var mu sync.Mutex
	arrivals := make([]int, rounds)
	var wg sync.WaitGroup
	errc := make(chan error, procs*ranks)
	for _, p := range ps {
		w := p.World("test", procs*ranks)
		if w.Size() != procs*ranks {
			t.Fatalf("world of %d", w.Size())
		}
		for range ranks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					mu.Lock()
					arrivals[r]++
					mu.Unlock()
					if err := w.Barrier(context.Background()); err != nil {
						errc <- err
						return
					}
					mu.Lock()
					n := arrivals[r]
					mu.Unlock()
					if n != procs*ranks {
						errc <- fmt.Errorf("round %d left with %d of %d arrived", r, n, procs*ranks)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	var gwg sync.WaitGroup
	for i, p := range ps {
		gwg.Add(1)
		go func() {
			defer gwg.Done()
			parts, err := p.Gather(context.Background(), "n", map[string]int{"proc": i})
			if want := map[bool]int{true: procs, false: 0}[i == 0]; err != nil || len(parts) != want {
				t.Errorf("process %d's gather: %v, %d parts, want %d", i, err, len(parts), want)
				return
			}
			for j, b := range parts {
				var v map[string]int
				if json.Unmarshal(b, &v) != nil || v["proc"] != j {
					t.Errorf("part %d: %s", j, b)
				}
			}
			if err := p.Finish(context.Background()); err != nil {
				t.Errorf("finish: %v", err)
			}
		}()
	}
	gwg.Wait()
}

// A process whose plan differs is refused at rendezvous, naming how; so
// is one without the token; and the others are told why.
func TestRendezvousRefusals(t *testing.T) {
	other := testPlan
	other.Overrides = []string{"a=2"}
	_, _, errs := joinAll(t, 3, 1, func(p int) Plan {
		if p == 2 {
			return other
		}
		return testPlan
	})
	want := "process 2 on host1 refused at rendezvous: it runs overrides [a=2], where process 0 has [a=1]"
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("process %d: %v, want %q", i, err, want)
		}
	}

	addr := freeAddr(t)
	p0, _, err := func() (*Process, context.Context, error) {
		ch := make(chan struct{})
		var p *Process
		var c context.Context
		var e error
		go func() {
			defer close(ch)
			p, c, e = Join(context.Background(), Config{Place: Place{Proc: 0, Procs: 2, Coordinator: addr}, Ranks: 1, Plan: testPlan, Token: "right", JoinTimeout: 5 * time.Second})
		}()
		_, _, err := Join(context.Background(), Config{Place: Place{Proc: 1, Procs: 2, Coordinator: addr}, Ranks: 1, Plan: testPlan, Token: "wrong", JoinTimeout: 5 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "wrong or missing MLPS_CLUSTER_TOKEN") {
			t.Errorf("a wrong token: %v", err)
		}
		<-ch
		return p, c, e
	}()
	if p0 != nil {
		p0.Close()
	}
	if err == nil {
		t.Errorf("process 0 joined a run whose other process never could")
	}
}

// A process that leaves without finishing fails the run on every other
// process, which is told which one.
func TestProcessGone(t *testing.T) {
	ps, ctxs, errs := joinAll(t, 3, 2, func(int) Plan { return testPlan })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	ps[1].Close()
	for _, i := range []int{0, 2} {
		select {
		case <-ctxs[i].Done():
		case <-time.After(20 * time.Second):
			t.Fatalf("process %d was not told", i)
		}
		if c := context.Cause(ctxs[i]); c == nil || !strings.Contains(c.Error(), "process 1 (ranks 2-3 on host0) disconnected") {
			t.Errorf("process %d: %v", i, c)
		}
		if err := ps[i].Barrier(context.Background()); err == nil || !strings.Contains(err.Error(), "process 1 (ranks 2-3 on host0) disconnected") {
			t.Errorf("process %d's barrier after: %v", i, err)
		}
	}
}

// helperEnv runs this test binary as one process of a run: the mode says
// what it does once joined.
const helperEnv = "MLPS_CLUSTER_HELPER"

// TestHelperProcess is not a test: it is the body of the processes the
// multi-process tests start, under mpirun or with flags.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("the body of a process of the multi-process tests")
	}
	os.Exit(helper(mode))
}

func helper(mode string) int {
	f := Flags{Rank: -1, World: -1}
	if v := os.Getenv("MLPS_TEST_RANK"); v != "" {
		f.Rank, _ = strconv.Atoi(v)
		f.World, _ = strconv.Atoi(os.Getenv("MLPS_TEST_WORLD"))
	}
	place, ok, err := PlaceOf(os.Getenv, f)
	if err != nil || !ok {
		fmt.Fprintf(os.Stderr, "place: %v (%v)\n", err, ok)
		return 2
	}
	host, _ := os.Hostname()
	p, ctx, err := Join(context.Background(), Config{Place: place, Ranks: 2, Plan: testPlan, Host: Host{Hostname: host},
		Token: os.Getenv("MLPS_CLUSTER_TOKEN"), JoinTimeout: 30 * time.Second})
	if err != nil {
		fmt.Fprintf(os.Stderr, "join: %v\n", err)
		return 3
	}
	defer p.Close()
	fmt.Printf("joined %d of %d via %s\n", place.Proc, place.Procs, place.Launcher)
	w := p.World("test", p.Ranks())
	rounds := 100
	if mode == "forever" {
		rounds = 1 << 30
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := w.Barrier(ctx); err != nil {
					errs <- err
					return
				}
				if mode == "forever" {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		fmt.Fprintf(os.Stderr, "process %d: %v; cause: %v\n", place.Proc, err, context.Cause(ctx))
		return 4
	}
	parts, err := p.Gather(ctx, "first", p.FirstRank())
	if err != nil {
		fmt.Fprintf(os.Stderr, "gather: %v\n", err)
		return 5
	}
	if err := p.Finish(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "finish: %v\n", err)
		return 6
	}
	fmt.Printf("process %d: ranks %d, first ranks %s\n", place.Proc, p.Ranks(), joinRaw(parts))
	return 0
}

func joinRaw(parts []json.RawMessage) string {
	var s []string
	for _, p := range parts {
		s = append(s, string(p))
	}
	return strings.Join(s, ",")
}

// helpers starts n processes of this test binary, placed by flags, in
// mode; their stdout lines come on lines.
type helperProc struct {
	cmd    *exec.Cmd
	stderr strings.Builder
	lines  chan string
	done   chan error
}

func startHelpers(t *testing.T, n int, mode, addr string) []*helperProc {
	t.Helper()
	var hs []*helperProc
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), helperEnv+"="+mode, "MLPS_TEST_RANK="+strconv.Itoa(i), "MLPS_TEST_WORLD="+strconv.Itoa(n),
			"MLPS_COORDINATOR="+addr, "MLPS_CLUSTER_TOKEN=t0ken")
		h := &helperProc{cmd: cmd, lines: make(chan string, 16), done: make(chan error, 1)}
		cmd.Stderr = &h.stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				h.lines <- sc.Text()
			}
			close(h.lines)
			h.done <- cmd.Wait()
		}()
		hs = append(hs, h)
	}
	t.Cleanup(func() {
		for _, h := range hs {
			h.cmd.Process.Kill()
		}
	})
	return hs
}

// Four plain processes placed by flags pass 100 barrier rounds of two
// ranks each and gather each one's first rank.
func TestProcessesWithFlags(t *testing.T) {
	hs := startHelpers(t, 4, "barriers", freeAddr(t))
	for i, h := range hs {
		var out []string
		for l := range h.lines {
			out = append(out, l)
		}
		if err := <-h.done; err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, h.stderr.String())
		}
		want := fmt.Sprintf("process %d: ranks 8, first ranks 0,2,4,6", i)
		if i > 0 {
			want = fmt.Sprintf("process %d: ranks 8, first ranks ", i)
		}
		if len(out) != 2 || out[1] != want {
			t.Errorf("process %d printed %q, want %q", i, out, want)
		}
	}
}

// Killing one process (SIGKILL, mid-barrier) ends every other within 10
// s with an error naming it; killing process 0 ends the others, naming
// the coordinator.
func TestKilled(t *testing.T) {
	for _, tc := range []struct {
		kill int
		want string
	}{
		{2, "process 2 (ranks 4-5 on "},
		{0, "the coordinator at "},
	} {
		t.Run(fmt.Sprint("process", tc.kill), func(t *testing.T) {
			hs := startHelpers(t, 4, "forever", freeAddr(t))
			for i, h := range hs {
				select {
				case l := <-h.lines:
					if !strings.HasPrefix(l, "joined") {
						t.Fatalf("process %d: %q", i, l)
					}
				case <-time.After(60 * time.Second):
					t.Fatalf("process %d did not join: %s", i, h.stderr.String())
				}
			}
			time.Sleep(200 * time.Millisecond) // mid-barrier
			if err := hs[tc.kill].cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			for i, h := range hs {
				if i == tc.kill {
					continue
				}
				for range h.lines {
				}
				select {
				case err := <-h.done:
					if err == nil {
						t.Errorf("process %d exited 0", i)
					}
				case <-time.After(10*time.Second - time.Since(killed)):
					t.Fatalf("process %d still runs 10 s after process %d was killed", i, tc.kill)
				}
				if !strings.Contains(h.stderr.String(), tc.want) {
					t.Errorf("process %d's error does not name process %d: %s", i, tc.kill, h.stderr.String())
				}
			}
		})
	}
}

// mpirun (Debian's Open MPI) starts four processes that find their
// place in its environment.
func TestMPIRun(t *testing.T) {
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		if os.Getenv("MLPS_REQUIRE_SERVERS") != "" {
			t.Fatal("mpirun not found: apt-get install openmpi-bin")
		}
		t.Skip("mpirun not found: apt-get install openmpi-bin")
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mpirun, "--oversubscribe", "-np", "4",
		"--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo",
		"-x", helperEnv+"=barriers", "-x", "MLPS_COORDINATOR="+addr, "-x", "MLPS_CLUSTER_TOKEN=t0ken",
		os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
	for i := range 4 {
		for _, want := range []string{fmt.Sprintf("joined %d of 4 via openmpi", i), fmt.Sprintf("process %d: ranks 8, first ranks ", i), "process 0: ranks 8, first ranks 0,2,4,6\n"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("mpirun's output lacks %q:\n%s", want, out)
			}
		}
	}
}

// A process that stops arriving (hung, not dead) fails the run once a
// round has waited BarrierTimeout for it, naming it.
func TestHungProcess(t *testing.T) {
	addr := freeAddr(t)
	ps := make([]*Process, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps[i], _, errs[i] = Join(context.Background(), Config{Place: Place{Proc: i, Procs: 2, Coordinator: addr}, Ranks: 1,
				Plan: testPlan, Host: Host{Hostname: "h"}, BarrierTimeout: 300 * time.Millisecond, JoinTimeout: 20 * time.Second})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
		defer ps[i].Close()
	}
	err := ps[0].World("step", 2).Barrier(context.Background())
	if want := "barrier step round 1: process 1 (ranks 1-1 on h) did not arrive within 300ms of the others"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%v, want %q", err, want)
	}
}

// A process that fails on its own tells the others why.
func TestAbort(t *testing.T) {
	ps, ctxs, errs := joinAll(t, 2, 1, func(int) Plan { return testPlan })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	ps[1].Abort(errors.New("stage train: read d/img_3.npz: input/output error"))
	select {
	case <-ctxs[0].Done():
	case <-time.After(20 * time.Second):
		t.Fatal("process 0 was not told")
	}
	if c := context.Cause(ctxs[0]); c == nil || c.Error() != "process 1 (ranks 1-1 on host0) failed: stage train: read d/img_3.npz: input/output error" {
		t.Errorf("process 0's cause: %v", c)
	}
}
