package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"mlps.dev/mlps/stages"
)

// Config is what a process brings to a run.
type Config struct {
	Place Place
	// Ranks is how many ranks (goroutines) this process hosts.
	Ranks int
	Plan  Plan
	Host  Host
	// Token authenticates the processes to the coordinator
	// (MLPS_CLUSTER_TOKEN); it may be empty only when the coordinator is
	// on a loopback address.
	Token string
	// Bind is where process 0 listens; the coordinator's address when
	// empty.
	Bind string
	// JoinTimeout bounds rendezvous: the wait for the coordinator to
	// listen and for every process to join (default 60 s).
	JoinTimeout time.Duration
	// BarrierTimeout fails the run when a barrier round waits longer than
	// this for a process (default 10 minutes; a training step or a
	// checkpoint save takes far less).
	BarrierTimeout time.Duration
}

// Process is this process's membership of a run.
type Process struct {
	cfg     Config
	conn    *grpc.ClientConn
	server  *grpc.Server
	coord   *coordinator
	members []Member
	cancel  context.CancelCauseFunc
	watchWG sync.WaitGroup
	gen     uint64 // barrier rounds, by this process's count
	mu      sync.Mutex
	// finished is set once this process told the coordinator it is done,
	// after which the watch ending is no failure.
	finished atomic.Bool
	// Offset is the coordinator's clock minus this process's, estimated
	// at rendezvous from the round trip with the least delay.
	Offset time.Duration
	// RTT is that round trip.
	RTT time.Duration
}

// Join makes this process part of the run: process 0 starts the
// coordinator, every process joins it and waits until all have, with the
// same plan. The context it returns ends, with the reason as its cause,
// when the run fails on any process or the coordinator is gone.
func Join(ctx context.Context, cfg Config) (*Process, context.Context, error) {
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = 60 * time.Second
	}
	if cfg.BarrierTimeout <= 0 {
		cfg.BarrierTimeout = 10 * time.Minute
	}
	if cfg.Ranks < 1 {
		return nil, nil, fmt.Errorf("a process hosts at least one rank")
	}
	if cfg.Token == "" && !loopback(cfg.Place.Coordinator) {
		return nil, nil, fmt.Errorf("coordinator %s is not on this host's loopback: set MLPS_CLUSTER_TOKEN to the same secret on every process", cfg.Place.Coordinator)
	}
	p := &Process{cfg: cfg}
	if cfg.Place.Proc == 0 {
		if err := p.serve(); err != nil {
			return nil, nil, err
		}
	}
	conn, err := grpc.NewClient(cfg.Place.Coordinator,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// A coordinator that stops answering is found within seconds
		// even when no call is in flight.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 5 * time.Second, Timeout: 3 * time.Second, PermitWithoutStream: true}))
	if err != nil {
		p.Close()
		return nil, nil, fmt.Errorf("coordinator %s: %w", cfg.Place.Coordinator, err)
	}
	p.conn = conn
	jctx, cancel := context.WithTimeout(ctx, cfg.JoinTimeout)
	defer cancel()
	var rep joinReply
	req := &joinRequest{Proc: cfg.Place.Proc, Procs: cfg.Place.Procs, Ranks: cfg.Ranks, Plan: cfg.Plan, Host: cfg.Host}
	// WaitForReady: process 0 may not listen yet when the others start.
	if err := conn.Invoke(tokenMD(jctx, cfg.Token), "/"+serviceName+"/Join", req, &rep, append(callOpts(), grpc.WaitForReady(true))...); err != nil {
		p.Close()
		return nil, nil, p.explain("rendezvous", err)
	}
	p.members = rep.Members
	p.clock(jctx)

	runCtx, cancelRun := context.WithCancelCause(ctx)
	p.cancel = cancelRun
	stream, err := conn.NewStream(tokenMD(runCtx, cfg.Token), &serviceDesc.Streams[0], "/"+serviceName+"/Watch", callOpts()...)
	if err == nil {
		err = stream.SendMsg(&procRequest{Proc: cfg.Place.Proc})
	}
	if err == nil {
		err = stream.CloseSend()
	}
	var first event
	if err == nil {
		err = stream.RecvMsg(&first)
	}
	if err != nil {
		cancelRun(err)
		p.Close()
		return nil, nil, p.explain("watch", err)
	}
	p.watchWG.Add(1)
	go func() {
		defer p.watchWG.Done()
		for {
			var ev event
			err := stream.RecvMsg(&ev)
			switch {
			case err == nil && ev.Abort != "":
				cancelRun(errors.New(ev.Abort))
				return
			case err == nil:
				continue
			case runCtx.Err() != nil || p.finished.Load():
				return
			default:
				cancelRun(fmt.Errorf("the coordinator at %s is gone (%v): process 0 died or the network failed", cfg.Place.Coordinator, status.Convert(err).Message()))
				return
			}
		}
	}()
	return p, runCtx, nil
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serve starts the coordinator in this process (process 0).
func (p *Process) serve() error {
	bind := p.cfg.Bind
	if bind == "" {
		bind = p.cfg.Place.Coordinator
	}
	l, err := net.Listen("tcp", bind)
	if err != nil {
		return fmt.Errorf("coordinator: listening on %s: %w", bind, err)
	}
	p.coord = newCoordinator(p.cfg.Place.Procs, p.cfg.Plan, p.cfg.Token, p.cfg.BarrierTimeout)
	p.server = grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 5 * time.Second, Timeout: 3 * time.Second}))
	p.server.RegisterService(&serviceDesc, p.coord)
	go p.server.Serve(l)
	return nil
}

// explain turns a call's error into what the user needs: the run's
// failure as the coordinator said it.
func (p *Process) explain(what string, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Aborted, codes.FailedPrecondition, codes.Unauthenticated, codes.InvalidArgument:
		return errors.New(st.Message())
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: not every process joined the coordinator at %s within %s", what, p.cfg.Place.Coordinator, p.cfg.JoinTimeout)
	}
	return fmt.Errorf("%s with the coordinator at %s: %s", what, p.cfg.Place.Coordinator, st.Message())
}

// clock estimates the coordinator's clock offset from a few round trips,
// keeping the one with the least delay.
func (p *Process) clock(ctx context.Context) {
	best := time.Duration(-1)
	for range 5 {
		t0 := time.Now()
		var rep clockReply
		if err := p.conn.Invoke(tokenMD(ctx, p.cfg.Token), "/"+serviceName+"/Clock", &empty{}, &rep, callOpts()...); err != nil {
			return
		}
		rtt := time.Since(t0)
		if best < 0 || rtt < best {
			best = rtt
			mid := t0.Add(rtt / 2)
			p.Offset = time.Unix(0, rep.UnixNano).Sub(mid)
			p.RTT = rtt
		}
	}
}

// Members are the processes of the run, in process order, and their
// hosts.
func (p *Process) Members() []stages.Member {
	ms := make([]stages.Member, len(p.members))
	for i, m := range p.members {
		ms[i] = stages.Member{Proc: m.Proc, Host: m.Host}
	}
	return ms
}

// Proc is this process's number.
func (p *Process) Proc() int { return p.cfg.Place.Proc }

// Ranks is the number of ranks of the run, over every process.
func (p *Process) Ranks() int {
	n := 0
	for _, m := range p.members {
		n += m.Ranks
	}
	return n
}

// FirstRank is the run-wide number of this process's first rank.
func (p *Process) FirstRank() int { return p.members[p.cfg.Place.Proc].FirstRank }

// barrier is one process's arrival at round gen of the barrier name.
func (p *Process) barrier(ctx context.Context, name string, gen uint64) error {
	err := p.conn.Invoke(tokenMD(ctx, p.cfg.Token), "/"+serviceName+"/Barrier", &barrierRequest{Proc: p.cfg.Place.Proc, Name: name, Gen: gen}, &empty{}, callOpts()...)
	if err != nil {
		return p.explain("barrier", err)
	}
	return nil
}

// Barrier returns once every process has called it as often.
func (p *Process) Barrier(ctx context.Context) error {
	p.mu.Lock()
	p.gen++
	gen := p.gen
	p.mu.Unlock()
	return p.barrier(ctx, "", gen)
}

// Gather sends v, this process's part of what is named, and once every
// process has sent its part returns them all, in process order, to
// process 0, which writes the results, and nil to the others. The parts
// are aggregates (histograms, counters), never per-operation records:
// their size does not grow with the run's length.
func (p *Process) Gather(ctx context.Context, name string, v any) ([]json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var rep gatherReply
	if err := p.conn.Invoke(tokenMD(ctx, p.cfg.Token), "/"+serviceName+"/Gather", &gatherRequest{Proc: p.cfg.Place.Proc, Name: name, Data: b}, &rep, callOpts()...); err != nil {
		return nil, p.explain("gather "+name, err)
	}
	return rep.Data, nil
}

// Finish tells the coordinator this process is done, so that its leaving
// is not taken for a death, and waits for every process to say so before
// process 0 stops the coordinator.
func (p *Process) Finish(ctx context.Context) error {
	p.finished.Store(true)
	err := p.conn.Invoke(tokenMD(ctx, p.cfg.Token), "/"+serviceName+"/Finish", &procRequest{Proc: p.cfg.Place.Proc}, &empty{}, callOpts()...)
	if err != nil {
		return p.explain("finish", err)
	}
	if _, err := p.Gather(ctx, "finish", nil); err != nil {
		return err
	}
	return nil
}

// Abort fails the run on every process for err, this process's own
// failure, so that the others say why rather than only that it left.
func (p *Process) Abort(err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.conn.Invoke(tokenMD(ctx, p.cfg.Token), "/"+serviceName+"/Abort", &abortRequest{Proc: p.cfg.Place.Proc, Reason: err.Error()}, &empty{}, callOpts()...)
}

// Close leaves the run: the watch ends and process 0's coordinator
// stops.
func (p *Process) Close() {
	if p.cancel != nil {
		p.cancel(context.Canceled)
	}
	p.watchWG.Wait()
	if p.conn != nil {
		p.conn.Close()
	}
	if p.server != nil {
		// Graceful: the last replies (the finishing gather) reach every
		// process; a process that never finishes is cut off after a
		// while.
		done := make(chan struct{})
		go func() {
			p.server.GracefulStop()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			p.server.Stop()
		}
	}
}
