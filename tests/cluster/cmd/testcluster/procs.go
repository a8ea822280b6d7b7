package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// freePorts returns n distinct free TCP ports on 127.0.0.1. All listeners
// are held open until every port is picked so the same port is never
// returned twice; there is a small window between closing them and the
// components binding, which is acceptable for a loopback test cluster.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// proc is one supervised child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the process has exited
	err  error         // exit status; valid after done is closed
}

// startProc starts bin with args, its stdout and stderr appended to
// logDir/NAME.log.
//
// Setpgid puts it in its own process group (so a terminal's Ctrl-C reaches
// only the supervisor, which then stops children in order) and Pdeathsig
// kills it if the supervisor dies without cleaning up, so nothing is ever
// orphaned. Pdeathsig is tied to the OS thread that forked; the Go runtime
// does not retire threads of ordinary goroutines, so this holds.
func startProc(name, bin string, args []string, logDir string) (*proc, error) {
	logFile, err := os.OpenFile(filepath.Join(logDir, name+".log"),
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Stdin = nil // /dev/null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logFile, "### testcluster: starting %s %q\n", bin, args)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, waits up to grace, then SIGKILLs.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	pgid := p.pid() // Setpgid: the child leads its own group
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
		logf("%s stopped", p.name)
		return
	case <-time.After(grace):
	}
	logf("%s did not stop within %s; killing it", p.name, grace)
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

// stopAll stops procs concurrently and returns when all have exited.
func stopAll(procs []*proc, grace time.Duration) {
	var wg sync.WaitGroup
	for _, p := range procs {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func(p *proc) {
			defer wg.Done()
			p.stop(grace)
		}(p)
	}
	wg.Wait()
}

// errProcExited is returned by waitHTTP when the process being waited for
// exits before it becomes healthy.
var errProcExited = errors.New("process exited")

// waitHTTP polls url until it answers 200 (and, if want is non-empty, its
// body contains want), the process exits, or ctx ends.
func waitHTTP(ctx context.Context, p *proc, client *http.Client, url, bearer, want string) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && (want == "" || strings.Contains(string(body), want)) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("%s: %w (%v); see its log", p.name, errProcExited, p.err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// httpClient returns a short-timeout client trusting caFile, or trusting
// anything if caFile is empty (the controller-manager and scheduler serve a
// self-signed cert on 127.0.0.1, checked only for liveness).
func httpClient(caFile string) (*http.Client, error) {
	tlsCfg := &tls.Config{}
	if caFile == "" {
		tlsCfg.InsecureSkipVerify = true
	} else {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificates in %s", caFile)
		}
		tlsCfg.RootCAs = pool
	}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: nil},
	}, nil
}
