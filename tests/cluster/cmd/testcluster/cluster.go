package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
)

type options struct {
	dir     string
	nodes   int
	noStdin bool
	binDir  string
	timeout time.Duration
}

const (
	// serviceCIDR is the service cluster IP range; its first address is the
	// `kubernetes` Service's ClusterIP and is a SAN of the serving cert.
	serviceCIDR = "10.96.0.0/16"
	// serviceAccountIssuer is the issuer of service-account tokens.
	serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"
	// stopGrace is how long a component gets after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
)

type ports struct {
	Etcd              int `json:"etcd"`
	EtcdPeer          int `json:"etcd_peer"`
	APIServer         int `json:"apiserver"`
	ControllerManager int `json:"controller_manager"`
	Scheduler         int `json:"scheduler"`
}

type cluster struct {
	opts   options
	logDir string
	pki    *pki
	ports  ports

	etcd, apiserver, kcm, scheduler *proc

	kubeletCancel context.CancelFunc
	kubeletDone   chan struct{}
}

func (c *cluster) bin(name string) string { return filepath.Join(c.opts.binDir, name) }

func (c *cluster) server() string { return fmt.Sprintf("https://127.0.0.1:%d", c.ports.APIServer) }

// start brings the cluster up, in order, and writes ready.json last.
func (c *cluster) start(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, c.opts.timeout)
	defer cancel()
	dir := c.opts.dir

	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		if _, err := os.Stat(c.bin(name)); err != nil {
			return fmt.Errorf("%s not found in %s (run tests/cluster/build): %w", name, c.opts.binDir, err)
		}
	}
	// A fresh cluster every time: drop what a previous run left behind.
	c.logDir = filepath.Join(dir, "logs")
	for _, stale := range []string{"ready.json", "etcd-data", "logs", "pki", "run"} {
		if err := os.RemoveAll(filepath.Join(dir, stale)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(c.logDir, 0o755); err != nil {
		return err
	}

	_, svcNet, _ := net.ParseCIDR(serviceCIDR)
	firstSvcIP := make(net.IP, len(svcNet.IP.To4()))
	copy(firstSvcIP, svcNet.IP.To4())
	firstSvcIP[3]++
	p, err := generatePKI(filepath.Join(dir, "pki"), firstSvcIP)
	if err != nil {
		return fmt.Errorf("generating certificates: %w", err)
	}
	c.pki = p
	logf("certificates and keys written to %s", p.Dir)

	pp, err := freePorts(5)
	if err != nil {
		return fmt.Errorf("picking ports: %w", err)
	}
	c.ports = ports{Etcd: pp[0], EtcdPeer: pp[1], APIServer: pp[2], ControllerManager: pp[3], Scheduler: pp[4]}

	// --- etcd ---
	t := time.Now()
	c.etcd, err = startProc("etcd", c.bin("etcd"), c.etcdArgs(), c.logDir)
	if err != nil {
		return err
	}
	plain, _ := httpClient("")
	if err := waitHTTP(ctx, c.etcd, plain, fmt.Sprintf("http://127.0.0.1:%d/health", c.ports.Etcd), "", `"health":"true"`); err != nil {
		return fmt.Errorf("waiting for etcd: %w", err)
	}
	logf("etcd ready in %.1fs (port %d)", time.Since(t).Seconds(), c.ports.Etcd)

	// --- kube-apiserver ---
	t = time.Now()
	c.apiserver, err = startProc("kube-apiserver", c.bin("kube-apiserver"), c.apiserverArgs(), c.logDir)
	if err != nil {
		return err
	}
	caClient, err := httpClient(p.CACert)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, c.apiserver, caClient, c.server()+"/readyz", p.AdminToken, ""); err != nil {
		return fmt.Errorf("waiting for kube-apiserver /readyz: %w", err)
	}
	logf("apiserver ready in %.1fs (%s)", time.Since(t).Seconds(), c.server())

	// Kubeconfigs for the components and for tests.
	adminKC := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(adminKC, c.server(), p.CACert, "testcluster-admin", p.AdminToken); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, "admin.token"), []byte(p.AdminToken), 0o600); err != nil {
		return err
	}

	// --- controller-manager and scheduler, concurrently ---
	t = time.Now()
	c.kcm, err = startProc("kube-controller-manager", c.bin("kube-controller-manager"), c.kcmArgs(adminKC), c.logDir)
	if err != nil {
		return err
	}
	c.scheduler, err = startProc("kube-scheduler", c.bin("kube-scheduler"), c.schedulerArgs(adminKC), c.logDir)
	if err != nil {
		return err
	}

	cs, err := clientset(c.server(), p.CACert, p.AdminToken)
	if err != nil {
		return err
	}
	// The kubelet stand-in registers the nodes while the controllers start.
	kctx, kcancel := context.WithCancel(context.Background())
	c.kubeletCancel = kcancel
	c.kubeletDone = make(chan struct{})
	fk := newFakeKubelet(cs, c.opts.nodes)
	if err := fk.registerNodes(ctx); err != nil {
		return fmt.Errorf("registering nodes: %w", err)
	}
	go func() {
		defer close(c.kubeletDone)
		fk.run(kctx)
	}()

	insecure, _ := httpClient("")
	if err := waitHTTP(ctx, c.kcm, insecure, fmt.Sprintf("https://127.0.0.1:%d/healthz", c.ports.ControllerManager), "", ""); err != nil {
		return fmt.Errorf("waiting for kube-controller-manager: %w", err)
	}
	if err := waitHTTP(ctx, c.scheduler, insecure, fmt.Sprintf("https://127.0.0.1:%d/healthz", c.ports.Scheduler), "", ""); err != nil {
		return fmt.Errorf("waiting for kube-scheduler: %w", err)
	}
	logf("controller-manager and scheduler healthy in %.1fs", time.Since(t).Seconds())

	// Test identities and the checks that the controllers are really working.
	t = time.Now()
	version, err := c.bootstrap(ctx, cs, fk)
	if err != nil {
		return err
	}
	logf("bootstrap (service accounts, node readiness) done in %.1fs", time.Since(t).Seconds())

	return c.writeReady(version, fk.nodeNames())
}

func (c *cluster) etcdArgs() []string {
	client := fmt.Sprintf("http://127.0.0.1:%d", c.ports.Etcd)
	peer := fmt.Sprintf("http://127.0.0.1:%d", c.ports.EtcdPeer)
	return []string{
		"--name=testcluster",
		"--data-dir=" + filepath.Join(c.opts.dir, "etcd-data"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=testcluster=" + peer,
		"--initial-cluster-state=new",
		// The data is throwaway: skip fsync, which dominates etcd latency on
		// shared CI disks.
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}
}

func (c *cluster) apiserverArgs() []string {
	p := c.pki
	return []string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", c.ports.Etcd),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The endpoint reconciler refuses a loopback advertise address (it
		// would publish it as the `kubernetes` Service's endpoint); nothing
		// runs inside this cluster that could use that endpoint anyway.
		"--endpoint-reconciler-type=none",
		fmt.Sprintf("--secure-port=%d", c.ports.APIServer),
		"--cert-dir=" + filepath.Join(c.opts.dir, "run", "apiserver"),
		"--tls-cert-file=" + p.ServingCert,
		"--tls-private-key-file=" + p.ServingKey,
		"--client-ca-file=" + p.CACert,
		"--token-auth-file=" + p.TokenFile,
		"--authorization-mode=Node,RBAC",
		"--anonymous-auth=true", // the default; lets unauthenticated /livez, /readyz through
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + p.SAPub,
		"--service-account-signing-key-file=" + p.SAKey,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--allow-privileged=true",
		// Aggregation layer (front proxy).
		"--requestheader-client-ca-file=" + p.FrontProxyCACert,
		"--requestheader-allowed-names=" + frontProxyClientName,
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-username-headers=X-Remote-User",
		"--proxy-client-cert-file=" + p.FrontProxyClientCert,
		"--proxy-client-key-file=" + p.FrontProxyKey,
		"--enable-aggregator-routing=true", // route to endpoints, not via (absent) kube-proxy
		"--profiling=false",
		"--v=1",
	}
}

// commonComponentArgs are the flags kube-controller-manager and
// kube-scheduler share: admin kubeconfig for everything, serving on
// 127.0.0.1 only, no leader election.
func (c *cluster) commonComponentArgs(kubeconfig, name string, port int) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + filepath.Join(c.opts.dir, "run", name),
		"--leader-elect=false",
		"--profiling=false",
		"--v=1",
	}
}

func (c *cluster) kcmArgs(kubeconfig string) []string {
	p := c.pki
	return append(c.commonComponentArgs(kubeconfig, "kube-controller-manager", c.ports.ControllerManager),
		"--service-account-private-key-file="+p.SAKey,
		"--root-ca-file="+p.CACert,
		"--use-service-account-credentials=true",
		"--cluster-signing-cert-file="+p.CACert,
		"--cluster-signing-key-file="+p.CAKey,
		"--service-cluster-ip-range="+serviceCIDR,
		"--cluster-name=testcluster",
		"--controllers=*",
		// The default client rate limit (20 qps) is what start-up mostly
		// waits for, while every controller gets its service account.
		"--kube-api-qps=200",
		"--kube-api-burst=400",
	)
}

func (c *cluster) schedulerArgs(kubeconfig string) []string {
	return c.commonComponentArgs(kubeconfig, "kube-scheduler", c.ports.Scheduler)
}

// waitAnyExit blocks until ctx ends (nil) or a component exits (that proc).
func (c *cluster) waitAnyExit(ctx context.Context) *proc {
	exited := make(chan *proc, 4)
	for _, p := range []*proc{c.etcd, c.apiserver, c.kcm, c.scheduler} {
		go func(p *proc) {
			<-p.done
			exited <- p
		}(p)
	}
	select {
	case <-ctx.Done():
		return nil
	case p := <-exited:
		return p
	}
}

// shutdown stops the kubelet stand-in, then the controllers and the
// apiserver together, and etcd last; it removes ready.json first so nobody
// picks up a dying cluster.
func (c *cluster) shutdown() {
	if c.opts.dir != "" {
		_ = os.Remove(filepath.Join(c.opts.dir, "ready.json"))
	}
	if c.kubeletCancel != nil {
		c.kubeletCancel()
		select {
		case <-c.kubeletDone:
		case <-time.After(2 * time.Second):
		}
	}
	stopAll([]*proc{c.scheduler, c.kcm, c.apiserver}, stopGrace)
	stopAll([]*proc{c.etcd}, stopGrace)
	logf("all components stopped")
}

// dumpLogTails prints the end of each component's log after a failure, so a
// CI log shows why without fetching DIR.
func (c *cluster) dumpLogTails() {
	for _, p := range []*proc{c.etcd, c.apiserver, c.kcm, c.scheduler} {
		if p == nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(c.logDir, p.name+".log"))
		if err != nil {
			continue
		}
		lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(os.Stderr, "----- last lines of %s.log -----\n%s\n", p.name, bytes.Join(lines, []byte("\n")))
	}
}

// clientset builds an admin client for the supervisor's own use.
func clientset(server, caFile, token string) (*kubernetes.Clientset, error) {
	cfg, err := restConfig(server, caFile, token)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}
