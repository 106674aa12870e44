package sim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim/credssp"
	"github.com/ocsha/ocs-ha-operator/internal/sim/ntlm"
)

// authConfig is the set of schemes an endpoint offers.
type authConfig struct{ basic, ntlm, credssp bool }

// authSchemes reads Config.Auth.
func authSchemes(schemes []string) (authConfig, error) {
	if len(schemes) == 0 {
		return authConfig{basic: true, ntlm: true, credssp: true}, nil
	}
	var a authConfig
	for _, s := range schemes {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "basic":
			a.basic = true
		case "ntlm", "negotiate":
			a.ntlm = true
		case "credssp":
			a.credssp = true
		default:
			return authConfig{}, fmt.Errorf("auth scheme %q: want basic, ntlm or credssp", s)
		}
	}
	return a, nil
}

// serverAuth is WinRM's authentication in front of one endpoint.
type serverAuth struct {
	handler     http.Handler
	connContext func(context.Context, net.Conn) context.Context
}

// newAuth puts Basic, NTLM (with message encryption) and CredSSP (with its own) in front of a
// server's handler. The account exists both locally, for Basic (which Windows allows for local
// accounts only), and in the domain, for NTLM and CredSSP.
func (e *Emulator) newAuth(spec ServerSpec, schemes authConfig, next http.Handler) serverAuth {
	cfg := e.cfg
	accounts := []ntlm.Account{
		{User: cfg.Username, Password: cfg.Password},
		{Domain: cfg.NetBIOSDomain, User: cfg.Username, Password: cfg.Password},
	}
	na := &ntlm.Authenticator{
		Server: ntlm.Server{
			NetBIOSDomain:   cfg.NetBIOSDomain,
			NetBIOSComputer: strings.ToUpper(spec.Name),
			DNSDomain:       cfg.Domain,
			DNSComputer:     spec.FQDN,
			Accounts:        func() []ntlm.Account { return accounts },
		},
		AllowBasic:                schemes.basic,
		AllowNTLM:                 schemes.ntlm,
		OfferCredSSP:              schemes.credssp,
		RequireEncryptionOverHTTP: cfg.RequireEncryption,
	}
	if cfg.OnLogonFailure != nil {
		na.OnLogonFailure = func(_ *http.Request, err error) { cfg.OnLogonFailure(spec.Name, err) }
	}
	if !schemes.credssp {
		return serverAuth{handler: na.Wrap(next), connContext: na.ConnContext}
	}
	ca := &credssp.Authenticator{
		// NTLM inside CredSSP logs on domain accounts even where the listener offers no Negotiate.
		Server: credssp.Server{NTLM: &na.Server, GetCertificate: credsspCertificate},
		Other:  na.Wrap(next), RequireEncryptionOverHTTP: cfg.RequireEncryption,
	}
	if cfg.OnLogonFailure != nil {
		ca.OnLogonFailure = func(_ *http.Request, err error) { cfg.OnLogonFailure(spec.Name, err) }
	}
	return serverAuth{
		handler: ca.Wrap(next),
		connContext: func(ctx context.Context, c net.Conn) context.Context {
			return ca.ConnContext(na.ConnContext(ctx, c), c)
		},
	}
}

var credsspCert struct {
	once sync.Once
	cert tls.Certificate
	err  error
}

// credsspCertificate is the certificate of the TLS channel inside CredSSP: a self-signed RSA
// certificate as WinRM makes for it, made once per process, at the first CredSSP logon, because
// RSA keys are slow to generate.
func credsspCertificate() (tls.Certificate, error) {
	credsspCert.once.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			credsspCert.err = fmt.Errorf("generating the CredSSP key: %w", err)
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "WSMan CredSSP"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			credsspCert.err = fmt.Errorf("creating the CredSSP certificate: %w", err)
			return
		}
		credsspCert.cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	return credsspCert.cert, credsspCert.err
}
