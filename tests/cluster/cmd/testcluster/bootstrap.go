package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// The identity with no RBAC bindings at all, for authorization tests.
	plainNamespace = "kubeskippy-test"
	plainName      = "plain"
	plainTokenTTL  = 24 * time.Hour
)

// readyInfo is the content of DIR/ready.json.
type readyInfo struct {
	Server            string         `json:"server"`
	CAFile            string         `json:"ca_file"`
	Kubeconfig        string         `json:"kubeconfig"`
	AdminTokenFile    string         `json:"admin_token_file"`
	PlainKubeconfig   string         `json:"plain_kubeconfig"`
	PlainTokenFile    string         `json:"plain_token_file"`
	PlainSA           string         `json:"plain_service_account"` // "namespace/name"
	KubernetesVersion string         `json:"kubernetes_version"`
	Ports             ports          `json:"ports"`
	Nodes             []string       `json:"nodes"`
	Pids              map[string]int `json:"pids"`
	LogDir            string         `json:"log_dir"`
	StartupSeconds    float64        `json:"startup_seconds"`
}

func restConfig(server, caFile, token string) (*rest.Config, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host:            server,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		QPS:             50,
		Burst:           100,
		UserAgent:       "testcluster",
	}, nil
}

// writeKubeconfig writes a kubeconfig with the CA embedded and a bearer token.
func writeKubeconfig(path, server, caFile, user, token string) error {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["testcluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["testcluster"] = &clientcmdapi.Context{Cluster: "testcluster", AuthInfo: user, Namespace: "default"}
	cfg.CurrentContext = "testcluster"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o600)
}

// writeFileAtomic writes via a temporary file and rename, so readers never
// see a partial file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// poll calls cond every interval until it returns true, an error, or ctx ends.
func poll(ctx context.Context, what string, interval time.Duration, cond func(context.Context) (bool, error)) error {
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// bootstrap creates the plain test identity and waits until the controllers
// are demonstrably working and the nodes are schedulable. It returns the
// server's version.
func (c *cluster) bootstrap(ctx context.Context, cs kubernetes.Interface, fk *fakeKubelet) (string, error) {
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return "", fmt.Errorf("server version: %w", err)
	}

	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: plainNamespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating namespace %s: %w", plainNamespace, err)
	}
	_, err = cs.CoreV1().ServiceAccounts(plainNamespace).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: plainName}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating service account %s/%s: %w", plainNamespace, plainName, err)
	}
	ttl := int64(plainTokenTTL.Seconds())
	tr, err := cs.CoreV1().ServiceAccounts(plainNamespace).CreateToken(ctx, plainName,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &ttl}},
		metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token request for %s/%s: %w", plainNamespace, plainName, err)
	}
	dir := c.opts.dir
	if err := writeFileAtomic(filepath.Join(dir, "plain.token"), []byte(tr.Status.Token), 0o600); err != nil {
		return "", err
	}
	if err := writeKubeconfig(filepath.Join(dir, "plain.kubeconfig"), c.server(), c.pki.CACert,
		"system:serviceaccount:"+plainNamespace+":"+plainName, tr.Status.Token); err != nil {
		return "", err
	}

	// The service-account controller (in kube-controller-manager) creates
	// `default` in every namespace; pods cannot be created before it exists.
	for _, ns := range []string{metav1.NamespaceDefault, plainNamespace} {
		err := poll(ctx, "waiting for service account "+ns+"/default", 200*time.Millisecond,
			func(ctx context.Context) (bool, error) {
				_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
				return err == nil, err
			})
		if err != nil {
			return "", err
		}
	}

	logf("service-account controller is working (default service accounts exist)")

	// The node lifecycle controller removes the not-ready taint that the
	// TaintNodesByCondition admission plugin puts on new nodes; until then
	// nothing schedules.
	err = poll(ctx, "waiting for nodes to become schedulable", 250*time.Millisecond,
		func(ctx context.Context) (bool, error) {
			for _, name := range fk.nodeNames() {
				n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				for _, t := range n.Spec.Taints {
					if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
						return false, fmt.Errorf("node %s still has taint %s", name, t.Key)
					}
				}
			}
			return true, nil
		})
	if err != nil {
		return "", err
	}
	return v.GitVersion, nil
}

// writeReady writes DIR/ready.json atomically; it is the last thing start does.
func (c *cluster) writeReady(version string, nodes []string) error {
	dir := c.opts.dir
	info := readyInfo{
		Server:            c.server(),
		CAFile:            c.pki.CACert,
		Kubeconfig:        filepath.Join(dir, "kubeconfig"),
		AdminTokenFile:    filepath.Join(dir, "admin.token"),
		PlainKubeconfig:   filepath.Join(dir, "plain.kubeconfig"),
		PlainTokenFile:    filepath.Join(dir, "plain.token"),
		PlainSA:           plainNamespace + "/" + plainName,
		KubernetesVersion: version,
		Ports:             c.ports,
		Nodes:             nodes,
		Pids: map[string]int{
			"testcluster":             os.Getpid(),
			"etcd":                    c.etcd.pid(),
			"kube-apiserver":          c.apiserver.pid(),
			"kube-controller-manager": c.kcm.pid(),
			"kube-scheduler":          c.scheduler.pid(),
		},
		LogDir:         c.logDir,
		StartupSeconds: time.Since(startTime).Seconds(),
	}
	if info.Nodes == nil {
		info.Nodes = []string{}
	}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "ready.json"), append(data, '\n'), 0o644)
}
