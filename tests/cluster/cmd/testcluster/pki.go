package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki holds the paths of everything generateAll writes under DIR/pki.
type pki struct {
	Dir string

	CACert, CAKey string // cluster CA: signs the serving cert, is the client CA and the root CA handed to pods

	ServingCert, ServingKey string // kube-apiserver serving cert

	FrontProxyCACert, FrontProxyCAKey   string // request-header (aggregation layer) CA
	FrontProxyClientCert, FrontProxyKey string // client cert the apiserver uses towards aggregated APIs

	SAKey, SAPub string // service-account token signing key pair

	TokenFile  string // static token file (--token-auth-file)
	AdminToken string
}

// frontProxyClientName is the CN of the proxy client cert; it is the only
// name allowed by --requestheader-allowed-names.
const frontProxyClientName = "front-proxy-client"

// certLifetime is long enough for any test run; the whole tree is throwaway.
const certLifetime = 7 * 24 * time.Hour

// keyPair is a certificate with its key, kept in memory for signing.
type keyPair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// generatePKI writes a fresh CA, serving cert, front-proxy CA and client
// cert, service-account key pair and static token file into dir.
// serviceIP is the first IP of the service range (the `kubernetes` Service),
// which must be among the serving cert's SANs.
func generatePKI(dir string, serviceIP net.IP) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{
		Dir:                  dir,
		CACert:               filepath.Join(dir, "ca.crt"),
		CAKey:                filepath.Join(dir, "ca.key"),
		ServingCert:          filepath.Join(dir, "apiserver.crt"),
		ServingKey:           filepath.Join(dir, "apiserver.key"),
		FrontProxyCACert:     filepath.Join(dir, "front-proxy-ca.crt"),
		FrontProxyCAKey:      filepath.Join(dir, "front-proxy-ca.key"),
		FrontProxyClientCert: filepath.Join(dir, "front-proxy-client.crt"),
		FrontProxyKey:        filepath.Join(dir, "front-proxy-client.key"),
		SAKey:                filepath.Join(dir, "sa.key"),
		SAPub:                filepath.Join(dir, "sa.pub"),
		TokenFile:            filepath.Join(dir, "tokens.csv"),
	}

	ca, err := newCA("testcluster-ca")
	if err != nil {
		return nil, err
	}
	if err := writePair(ca, p.CACert, p.CAKey); err != nil {
		return nil, err
	}

	serving, err := newLeaf(ca, pkix.Name{CommonName: "kube-apiserver"},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		[]net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback, serviceIP},
		x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	if err := writePair(serving, p.ServingCert, p.ServingKey); err != nil {
		return nil, err
	}

	fpCA, err := newCA("testcluster-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	if err := writePair(fpCA, p.FrontProxyCACert, p.FrontProxyCAKey); err != nil {
		return nil, err
	}
	fpClient, err := newLeaf(fpCA, pkix.Name{CommonName: frontProxyClientName}, nil, nil,
		x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	if err := writePair(fpClient, p.FrontProxyClientCert, p.FrontProxyKey); err != nil {
		return nil, err
	}

	// RSA for the service-account signer: RS256 is what every consumer
	// (client libraries, OIDC discovery users) expects by default.
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if err := writeKey(saKey, p.SAKey); err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := writePEM(p.SAPub, "PUBLIC KEY", pubDER, 0o644); err != nil {
		return nil, err
	}

	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	p.AdminToken = hex.EncodeToString(tok)
	// Format: token,user,uid,"group1,group2"
	line := fmt.Sprintf("%s,testcluster-admin,testcluster-admin,\"system:masters\"\n", p.AdminToken)
	if err := os.WriteFile(p.TokenFile, []byte(line), 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
}

// newCA makes a self-signed CA certificate.
func newCA(cn string) (*keyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour), // tolerate small clock skew
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &keyPair{cert: cert, key: key}, nil
}

// newLeaf makes a certificate signed by ca.
func newLeaf(ca *keyPair, subj pkix.Name, dns []string, ips []net.IP, usage x509.ExtKeyUsage) (*keyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      subj,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &keyPair{cert: cert, key: key}, nil
}

func writePair(kp *keyPair, certPath, keyPath string) error {
	if err := writePEM(certPath, "CERTIFICATE", kp.cert.Raw, 0o644); err != nil {
		return err
	}
	return writeKey(kp.key, keyPath)
}

// writeKey writes a private key as PKCS#8 ("PRIVATE KEY"), which every
// Kubernetes component and etcd accept for both RSA and ECDSA keys.
func writeKey(key crypto.Signer, path string) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}
