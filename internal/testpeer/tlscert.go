package testpeer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCA is a certificate authority made at test time (no key is ever
// committed) and the server certificate it signed for 127.0.0.1, ::1 and
// localhost, written as PEM files for Skyrelay (CertFile, KeyFile) and for
// peers that verify it (CAFile: ffmpeg -ca_file, mosquitto_sub --cafile,
// curl --cacert).
type TestCA struct {
	CertFile, KeyFile, CAFile string
	Pool                      *x509.CertPool
	// Serial is the serial number of the server certificate in CertFile.
	Serial *big.Int

	t      testing.TB
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

// NewTestCA makes a CA and a server certificate in a fresh folder.
func NewTestCA(t testing.TB) *TestCA {
	t.Helper()
	dir := t.TempDir()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Skyrelay test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testpeer: CA certificate: %v", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpeer: CA certificate: %v", err)
	}
	c := &TestCA{t: t, caCert: ca, caKey: key, Pool: x509.NewCertPool(),
		CertFile: filepath.Join(dir, "server.crt"), KeyFile: filepath.Join(dir, "server.key"), CAFile: filepath.Join(dir, "ca.crt")}
	c.Pool.AddCert(ca)
	writePEM(t, c.CAFile, "CERTIFICATE", der)
	c.Issue("localhost")
	return c
}

// Issue writes a new server certificate with its own key and serial number
// for commonName over CertFile and KeyFile, as an operator's rotation does.
func (c *TestCA) Issue(commonName string) {
	c.t.Helper()
	key := newKey(c.t)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.caCert, &key.PublicKey, c.caKey)
	if err != nil {
		c.t.Fatalf("testpeer: server certificate: %v", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		c.t.Fatalf("testpeer: server key: %v", err)
	}
	writePEM(c.t, c.CertFile, "CERTIFICATE", der)
	writePEM(c.t, c.KeyFile, "PRIVATE KEY", kder)
	c.Serial = serial
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testpeer: key: %v", err)
	}
	return key
}

// writePEM replaces path atomically, so a poller never reads half a file.
func writePEM(t testing.TB, path, typ string, der []byte) {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
}
