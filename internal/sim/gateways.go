package sim

import "crypto/tls"

// SelfSigned makes a throwaway CA and a server certificate it signs for hosts, for tests that
// serve TLS (SIP gateways). It returns the certificate and the CA as PEM.
func SelfSigned(hosts []string) (tls.Certificate, []byte, error) { return selfSigned(hosts) }
