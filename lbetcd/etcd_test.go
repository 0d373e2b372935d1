package lbetcd_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// installHint says how to get the etcd binary the tests run.
const installHint = "install it with `apt-get install etcd-server` (Debian, etcd 3.4), or set NANOLB_ETCD to an etcd binary"

// etcdExamples are the Examples that talk to etcd; TestMain skips them when
// there is no etcd binary (an Example cannot skip itself).
const etcdExamples = "^(ExampleRegister|ExampleResolver)$"

var (
	// etcdBin is the etcd binary, or "" when there is none.
	etcdBin string
	// exampleEtcd is the client URL of the etcd that TestMain starts for the
	// Examples (and for tests that share one server), or "".
	exampleEtcd string
)

// required reports whether a missing etcd must fail the tests (CI) rather
// than skip them.
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("NANOLB_REQUIRE_ALL") == "1"
}

func TestMain(m *testing.M) {
	flag.Parse()
	name := os.Getenv("NANOLB_ETCD")
	if name == "" {
		name = "etcd"
	}
	var shared *etcdServer
	if bin, err := exec.LookPath(name); err == nil {
		etcdBin = bin
		dir, err := os.MkdirTemp("", "lbetcd-example-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "lbetcd:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		shared, err = startEtcd(bin, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "lbetcd: starting the shared etcd:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		exampleEtcd = shared.url
	} else if required() {
		fmt.Fprintf(os.Stderr, "lbetcd: no etcd binary (%v), and CI=true or NANOLB_REQUIRE_ALL=1 forbids skipping: %s\n", err, installHint)
		os.Exit(1)
	} else {
		fmt.Printf("lbetcd: no etcd binary: skipping the tests and examples that need one; %s\n", installHint)
		skip := flag.Lookup("test.skip")
		if old := skip.Value.String(); old != "" {
			skip.Value.Set(old + "|" + etcdExamples)
		} else {
			skip.Value.Set(etcdExamples)
		}
	}
	code := m.Run()
	if shared != nil {
		shared.kill()
	}
	if code == 0 {
		if leaked := leakedGoroutines(); leaked != "" {
			fmt.Fprintf(os.Stderr, "lbetcd: goroutines left behind after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to 5 s for every goroutine that etcd's client,
// gRPC, net/http, os/exec or nanolb started to end, and returns their
// stacks if some do not. (A count would also catch the runtime's and the
// testing package's own, such as the signal loop fuzzing starts.)
func leakedGoroutines() string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		all := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
		var left []string
		for _, g := range all[1:] { // all[0] is this goroutine
			for _, mark := range []string{"go.etcd.io/", "google.golang.org/grpc", "github.com/nanolb/", "net/http.", "os/exec.", "net.(*"} {
				if strings.Contains(g, mark) {
					left = append(left, g)
					break
				}
			}
		}
		if len(left) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// needEtcd skips t without an etcd binary, or fails it under CI.
func needEtcd(t testing.TB) {
	t.Helper()
	if etcdBin != "" {
		return
	}
	if required() {
		t.Fatalf("no etcd binary, and CI=true or NANOLB_REQUIRE_ALL=1 forbids skipping: %s", installHint)
	}
	t.Skipf("no etcd binary: %s", installHint)
}

// etcdServer is a real single-member etcd on loopback ports, in a data
// directory of its own, that a test can kill and start again on the same
// ports and data.
type etcdServer struct {
	bin, dir  string
	url, peer string // client and peer URLs

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	log    bytes.Buffer // etcd's output, for a failing test's report
}

// newEtcd starts an etcd server of t's own, stopped when t ends.
func newEtcd(t testing.TB) *etcdServer {
	t.Helper()
	needEtcd(t)
	s, err := startEtcd(etcdBin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("etcd's output:\n%s", s.output())
		}
	})
	return s
}

// startEtcd starts etcd on two free loopback ports, trying other ports if
// another process took one first.
func startEtcd(bin, dir string) (*etcdServer, error) {
	var err error
	for range 3 {
		s := &etcdServer{bin: bin, dir: dir}
		var ports [2]int
		if ports, err = freePorts(); err != nil {
			return nil, err
		}
		s.url = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		s.peer = fmt.Sprintf("http://127.0.0.1:%d", ports[1])
		if err = s.start(); err == nil {
			return s, nil
		}
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o700)
	}
	return nil, err
}

// freePorts returns two loopback ports that were free a moment ago.
func freePorts() ([2]int, error) {
	var ports [2]int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports, err
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// start runs etcd and waits up to 20 s for it to report healthy. On a
// restart the data directory decides the cluster, and the flags naming it
// are ignored.
func (s *etcdServer) start() error {
	cmd := exec.Command(s.bin,
		"--name", "lbetcd-test",
		"--data-dir", s.dir,
		"--listen-client-urls", s.url,
		"--advertise-client-urls", s.url,
		"--listen-peer-urls", s.peer,
		"--initial-advertise-peer-urls", s.peer,
		"--initial-cluster", "lbetcd-test="+s.peer,
		"--initial-cluster-state", "new",
		"--logger", "zap",
		"--log-outputs", "stderr",
		"--log-level", "warn",
	)
	dieWithTest(cmd)
	s.mu.Lock()
	cmd.Stdout = &lockedWriter{&s.mu, &s.log}
	cmd.Stderr = cmd.Stdout
	s.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("etcd exited while starting: %s", s.output())
		default:
		}
		if resp, err := hc.Get(s.url + "/health"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), `"health":"true"`) {
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("etcd not healthy within 20 s: %s", s.output())
}

// kill kills etcd (SIGKILL, no clean shutdown) and waits for it to exit.
func (s *etcdServer) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

func (s *etcdServer) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// lockedWriter serialises writes to a buffer that output reads.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// newClient returns a client of the etcd at url, closed when t ends. It
// reconnects within half a second of etcd's return (gRPC's default backoff
// grows to 2 minutes), so the restart tests stay short.
func newClient(t testing.TB, url string) *clientv3.Client {
	t.Helper()
	c, err := dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dial(url string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{url},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: 500 * time.Millisecond},
			MinConnectTimeout: time.Second,
		})},
	})
}

// sharedClient returns a client of the etcd TestMain started, and a prefix
// no other test, and no other run of this test (-count), uses.
func sharedClient(t testing.TB) (*clientv3.Client, string) {
	t.Helper()
	needEtcd(t)
	return newClient(t, exampleEtcd), fmt.Sprintf("/lbetcd-test/%s/%d/", t.Name(), runs.Add(1))
}

var runs atomic.Int64

// timeoutCtx returns a context ending after d, cancelled when t ends.
func timeoutCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
