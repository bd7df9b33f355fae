package cluster

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"mlps.dev/mlps/stages"
)

// The coordinator speaks gRPC with JSON messages: the messages are a few
// small structs, and a codec of ten lines spares the build a protobuf
// code generator.
type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)   { return json.Marshal(v) }
func (jsonCodec) Unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func (jsonCodec) Name() string                    { return codecName }
func init()                                       { encoding.RegisterCodec(jsonCodec{}) }
func callOpts() []grpc.CallOption                 { return []grpc.CallOption{grpc.CallContentSubtype(codecName)} }
func tokenMD(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, tokenKey, token)
}

const (
	codecName = "mlps-json"
	tokenKey  = "mlps-token"
)

// Plan identifies what a process runs: every process of a run must run
// the same resolved plan, with the same mlps.
type Plan struct {
	Hash      string   `json:"hash"`
	Workload  string   `json:"workload"`
	Version   string   `json:"version"`
	Overrides []string `json:"overrides"`
}

// diff says how other differs from p, or "" when it does not.
func (p Plan) diff(other Plan) string {
	var d []string
	if p.Version != other.Version {
		d = append(d, fmt.Sprintf("mlps %s, where process 0 runs %s", other.Version, p.Version))
	}
	if p.Workload != other.Workload {
		d = append(d, fmt.Sprintf("workload %q, where process 0 runs %q", other.Workload, p.Workload))
	}
	if !slices.Equal(p.Overrides, other.Overrides) {
		d = append(d, fmt.Sprintf("overrides [%s], where process 0 has [%s]", strings.Join(other.Overrides, " "), strings.Join(p.Overrides, " ")))
	}
	if len(d) == 0 && p.Hash != other.Hash {
		d = append(d, fmt.Sprintf("a plan of hash %.12s, where process 0's is %.12s (the same workload file differs between hosts)", other.Hash, p.Hash))
	}
	return strings.Join(d, "; ")
}

// Host is what a process says of its host.
type Host = stages.Host

// Member is one process of the run as rendezvous found it: its host,
// the ranks it hosts and the first of them.
type Member struct {
	Proc      int  `json:"proc"`
	Host      Host `json:"host"`
	Ranks     int  `json:"ranks"`
	FirstRank int  `json:"first_rank"`
}

type joinRequest struct {
	Proc, Procs int
	Ranks       int
	Plan        Plan
	Host        Host
}

type joinReply struct {
	Members []Member
}

type barrierRequest struct {
	Proc int
	Name string
	Gen  uint64
}

// roundKey names a barrier round: a world's name and its round.
type roundKey struct {
	name string
	gen  uint64
}

type gatherRequest struct {
	Proc int
	Name string
	Data json.RawMessage
}

type gatherReply struct {
	Data []json.RawMessage
}

type procRequest struct{ Proc int }

type abortRequest struct {
	Proc   int
	Reason string
}

type clockReply struct{ UnixNano int64 }

type event struct{ Abort string }

type empty struct{}

// coordinator is process 0's service: it holds the run's rendezvous,
// barrier rounds and gathers, and its first failure, which every call
// after it returns.
type coordinator struct {
	procs   int
	ref     Plan
	token   string
	timeout time.Duration // of a barrier round with processes missing

	mu       sync.Mutex
	members  []*Member
	joined   int
	allIn    chan struct{}
	failed   error
	failCh   chan struct{}
	finished []chan struct{}
	rounds   map[roundKey]*round
	gathers  map[string]*gathering
}

type round struct {
	arrived []bool
	n       int
	done    chan struct{}
}

type gathering struct {
	data    []json.RawMessage
	arrived []bool
	n       int
	done    chan struct{}
}

func newCoordinator(procs int, ref Plan, token string, barrierTimeout time.Duration) *coordinator {
	c := &coordinator{procs: procs, ref: ref, token: token, timeout: barrierTimeout,
		members: make([]*Member, procs), allIn: make(chan struct{}), failCh: make(chan struct{}),
		finished: make([]chan struct{}, procs), rounds: map[roundKey]*round{}, gathers: map[string]*gathering{}}
	for i := range c.finished {
		c.finished[i] = make(chan struct{})
	}
	return c
}

// fail records the run's first failure and wakes every waiter.
func (c *coordinator) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil {
		c.failed = err
		close(c.failCh)
	}
}

func (c *coordinator) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return status.Error(codes.Aborted, c.failed.Error())
}

func (c *coordinator) proc(p int) error {
	if p < 0 || p >= c.procs {
		return status.Errorf(codes.InvalidArgument, "process %d of a run of %d", p, c.procs)
	}
	return nil
}

// describe names a process by its ranks and host, for messages.
func (c *coordinator) describe(p int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.members[p]; m != nil {
		return fmt.Sprintf("process %d (ranks %d-%d on %s)", p, m.FirstRank, m.FirstRank+m.Ranks-1, m.Host.Hostname)
	}
	return fmt.Sprintf("process %d", p)
}

func (c *coordinator) join(ctx context.Context, r *joinRequest) (*joinReply, error) {
	if err := c.proc(r.Proc); err != nil {
		return nil, err
	}
	if r.Procs != c.procs {
		err := fmt.Errorf("process %d was started as one of %d processes, process 0 as one of %d", r.Proc, r.Procs, c.procs)
		c.fail(err)
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	if d := c.ref.diff(r.Plan); d != "" {
		err := fmt.Errorf("process %d on %s refused at rendezvous: it runs %s", r.Proc, r.Host.Hostname, d)
		c.fail(err)
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	c.mu.Lock()
	if c.members[r.Proc] != nil {
		c.mu.Unlock()
		err := fmt.Errorf("two processes joined as process %d (the second on %s): each process needs its own rank", r.Proc, r.Host.Hostname)
		c.fail(err)
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	c.members[r.Proc] = &Member{Proc: r.Proc, Host: r.Host, Ranks: r.Ranks}
	c.joined++
	if c.joined == c.procs {
		first := 0
		for _, m := range c.members {
			m.FirstRank = first
			first += m.Ranks
		}
		close(c.allIn)
	}
	c.mu.Unlock()
	select {
	case <-c.allIn:
	case <-c.failCh:
		return nil, c.failure()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rep := &joinReply{}
	for _, m := range c.members {
		rep.Members = append(rep.Members, *m)
	}
	return rep, nil
}

func (c *coordinator) barrier(ctx context.Context, r *barrierRequest) (*empty, error) {
	if err := c.proc(r.Proc); err != nil {
		return nil, err
	}
	c.mu.Lock()
	key := roundKey{r.Name, r.Gen}
	rd := c.rounds[key]
	if rd == nil {
		rd = &round{arrived: make([]bool, c.procs), done: make(chan struct{})}
		c.rounds[key] = rd
	}
	if !rd.arrived[r.Proc] {
		rd.arrived[r.Proc] = true
		rd.n++
	}
	if rd.n == c.procs {
		close(rd.done)
		delete(c.rounds, key)
	}
	c.mu.Unlock()
	if err := c.wait(ctx, rd.done, rd.arrived, fmt.Sprintf("barrier %s round %d", cmp.Or(r.Name, "of the processes"), r.Gen)); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

// wait waits for done, the run's failure or the caller's end. A round
// still waiting for processes after the timeout fails the run naming
// the processes that did not arrive (false in arrived).
func (c *coordinator) wait(ctx context.Context, done <-chan struct{}, arrived []bool, what string) error {
	var timeout <-chan time.Time
	if c.timeout > 0 {
		t := time.NewTimer(c.timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-done:
		return nil
	case <-c.failCh:
		return c.failure()
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout:
		c.mu.Lock()
		var missing []int
		for p, in := range arrived {
			if !in {
				missing = append(missing, p)
			}
		}
		c.mu.Unlock()
		var names []string
		for _, p := range missing {
			names = append(names, c.describe(p))
		}
		c.fail(fmt.Errorf("%s: %s did not arrive within %s of the others: hung or far slower", what, strings.Join(names, ", "), c.timeout))
		return c.failure()
	}
}

func (c *coordinator) gather(ctx context.Context, r *gatherRequest) (*gatherReply, error) {
	if err := c.proc(r.Proc); err != nil {
		return nil, err
	}
	c.mu.Lock()
	g := c.gathers[r.Name]
	if g == nil {
		g = &gathering{data: make([]json.RawMessage, c.procs), arrived: make([]bool, c.procs), done: make(chan struct{})}
		c.gathers[r.Name] = g
	}
	if !g.arrived[r.Proc] {
		g.arrived[r.Proc] = true
		g.data[r.Proc] = r.Data
		g.n++
	}
	if g.n == c.procs {
		// Every part is in: the waiters hold g, and no process sends to
		// this name again.
		close(g.done)
		delete(c.gathers, r.Name)
	}
	c.mu.Unlock()
	if err := c.wait(ctx, g.done, g.arrived, "gather "+r.Name); err != nil {
		return nil, err
	}
	// Process 0 writes the results: only it needs every part.
	if r.Proc != 0 {
		return &gatherReply{}, nil
	}
	return &gatherReply{Data: g.data}, nil
}

// watch holds a stream open for a process: when the stream ends before
// the process said it finished, the process died or lost its network,
// and the run fails; when the run fails, every stream is told why.
func (c *coordinator) watch(r *procRequest, stream grpc.ServerStream) error {
	if err := c.proc(r.Proc); err != nil {
		return err
	}
	if err := stream.SendMsg(&event{}); err != nil {
		return err
	}
	select {
	case <-c.failCh:
		c.mu.Lock()
		msg := c.failed.Error()
		c.mu.Unlock()
		return stream.SendMsg(&event{Abort: msg})
	case <-c.finished[r.Proc]:
		return nil
	case <-stream.Context().Done():
		select {
		case <-c.finished[r.Proc]:
		default:
			c.fail(fmt.Errorf("%s disconnected: it died or lost its network", c.describe(r.Proc)))
		}
		return nil
	}
}

func (c *coordinator) finish(r *procRequest) (*empty, error) {
	if err := c.proc(r.Proc); err != nil {
		return nil, err
	}
	c.mu.Lock()
	select {
	case <-c.finished[r.Proc]:
	default:
		close(c.finished[r.Proc])
	}
	c.mu.Unlock()
	return &empty{}, nil
}

// authorize checks the shared token of every call.
func (c *coordinator) authorize(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	got := md.Get(tokenKey)
	if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte(c.token)) != 1 {
		return status.Error(codes.Unauthenticated, "wrong or missing MLPS_CLUSTER_TOKEN: every process of a run needs the same token")
	}
	return nil
}

func unary[Req, Rep any](f func(*coordinator, context.Context, *Req) (*Rep, error)) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		c := srv.(*coordinator)
		if err := c.authorize(ctx); err != nil {
			return nil, err
		}
		req := new(Req)
		if err := dec(req); err != nil {
			return nil, err
		}
		return f(c, ctx, req)
	}
}

const serviceName = "mlps.cluster.Coordinator"

var serviceDesc = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Join", Handler: unary((*coordinator).join)},
		{MethodName: "Barrier", Handler: unary((*coordinator).barrier)},
		{MethodName: "Gather", Handler: unary((*coordinator).gather)},
		{MethodName: "Finish", Handler: unary(func(c *coordinator, _ context.Context, r *procRequest) (*empty, error) { return c.finish(r) })},
		{MethodName: "Abort", Handler: unary(func(c *coordinator, _ context.Context, r *abortRequest) (*empty, error) {
			if err := c.proc(r.Proc); err != nil {
				return nil, err
			}
			c.fail(fmt.Errorf("%s failed: %s", c.describe(r.Proc), r.Reason))
			return &empty{}, nil
		})},
		{MethodName: "Clock", Handler: unary(func(*coordinator, context.Context, *empty) (*clockReply, error) {
			return &clockReply{UnixNano: time.Now().UnixNano()}, nil
		})},
	},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Watch",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			c := srv.(*coordinator)
			if err := c.authorize(stream.Context()); err != nil {
				return err
			}
			var r procRequest
			if err := stream.RecvMsg(&r); err != nil {
				return err
			}
			return c.watch(&r, stream)
		},
	}},
}
