// Command testcluster runs a throwaway Kubernetes control plane for tests:
// etcd, kube-apiserver, kube-controller-manager and kube-scheduler as child
// processes, plus an in-process stand-in for the kubelet of N fake nodes.
//
// Usage:
//
//	testcluster --dir DIR [--nodes 2] [--no-stdin] [--bin-dir DIR] [--timeout 3m]
//
// It writes certificates, kubeconfigs and tokens into DIR and, once the
// cluster is usable, DIR/ready.json (atomically, last). It runs until its
// standard input reaches EOF (unless --no-stdin) or it gets SIGTERM/SIGINT,
// then stops the children (etcd last), removes DIR/ready.json and exits 0.
// If a component fails to start or dies, it stops the rest and exits 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

var startTime = time.Now()

// logf writes a timestamped progress line to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s testcluster: %s\n",
		time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func main() {
	var opts options
	flag.StringVar(&opts.dir, "dir", "", "directory for certificates, kubeconfigs, data and logs (required)")
	flag.IntVar(&opts.nodes, "nodes", 2, "number of fake nodes (node-0 ... node-N-1)")
	flag.BoolVar(&opts.noStdin, "no-stdin", false, "do not stop when standard input reaches EOF (for use by hand)")
	flag.StringVar(&opts.binDir, "bin-dir", "", "directory holding etcd, kube-apiserver, ... (default: this program's directory)")
	flag.DurationVar(&opts.timeout, "timeout", 3*time.Minute, "give up if the cluster is not ready within this time")
	flag.Parse()
	if opts.dir == "" || opts.nodes < 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: testcluster --dir DIR [--nodes N] [--no-stdin] [--bin-dir DIR] [--timeout D]")
		os.Exit(2)
	}
	if opts.binDir == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "testcluster:", err)
			os.Exit(1)
		}
		opts.binDir = filepath.Dir(exe)
	}
	dir, err := filepath.Abs(opts.dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testcluster:", err)
		os.Exit(1)
	}
	opts.dir = dir

	// ctx ends when we are asked to stop: EOF on stdin or a signal.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		s := <-sigs
		logf("got %s; shutting down", s)
		stop()
	}()
	if !opts.noStdin {
		go func() {
			// Whoever started us holds the write end of our stdin; when it
			// exits (or closes the pipe) we see EOF and stop the cluster.
			_, _ = io.Copy(io.Discard, os.Stdin)
			logf("standard input closed; shutting down (--no-stdin keeps running without a stdin pipe)")
			stop()
		}()
	}

	os.Exit(run(ctx, opts))
}

// run starts the cluster, waits for ctx to end or a component to die, then
// tears everything down. It returns the process exit code.
func run(ctx context.Context, opts options) int {
	c := &cluster{opts: opts}
	defer c.shutdown()

	if err := c.start(ctx); err != nil {
		if ctx.Err() != nil {
			logf("start-up interrupted")
			return 0
		}
		logf("error: %v", err)
		c.dumpLogTails()
		return 1
	}
	logf("cluster ready in %.1fs: export KUBECONFIG=%s", time.Since(startTime).Seconds(),
		filepath.Join(opts.dir, "kubeconfig"))

	if p := c.waitAnyExit(ctx); p != nil {
		logf("error: %s exited unexpectedly (%v); see %s", p.name, p.err,
			filepath.Join(c.logDir, p.name+".log"))
		return 1
	}
	return 0
}
