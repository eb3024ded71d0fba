package auth

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Demo credentials of the local default configuration (make run, spendstream token). They are
// public: RefuseDemoOnPublic keeps a process using any of them off non-loopback addresses.
const (
	// DemoSecret is the HS256 secret of the local default configuration. FOR LOCAL USE ONLY.
	DemoSecret = "spendstream-demo-hs256-secret--LOCAL-USE-ONLY--never-deploy"
	// DemoProducerKey is the producer key (all tenants) of the local default configuration.
	// FOR LOCAL USE ONLY.
	DemoProducerKey = "spk_spendstream_demo"
	// DemoProjectKeyPrefix starts every PostHog project key of the demo data. FOR LOCAL USE ONLY.
	DemoProjectKeyPrefix = "phc_spendstream_demo"
)

// ErrDemoOnPublic is wrapped by RefuseDemoOnPublic's error.
var ErrDemoOnPublic = errors.New("demo credentials on a non-loopback address")

// UsesDemoSecret reports whether secret is DemoSecret.
func UsesDemoSecret(secret []byte) bool { return string(secret) == DemoSecret }

// IsDemoProjectKey reports whether a PostHog project key is one of the demo's.
func IsDemoProjectKey(key string) bool { return strings.HasPrefix(key, DemoProjectKeyPrefix) }

// RefuseDemoOnPublic returns an error wrapping ErrDemoOnPublic when the process would listen on
// listenAddr ("host:port") with the demo secret or demo keys and the host is not loopback. Loopback
// is "localhost" or an address in 127.0.0.0/8 or ::1; an empty host (":8080"), an unspecified
// address ("0.0.0.0", "::") and any other name count as public.
func RefuseDemoOnPublic(listenAddr string, usesDemoSecret, usesDemoKeys bool) error {
	if !usesDemoSecret && !usesDemoKeys {
		return nil
	}
	if isLoopback(listenAddr) {
		return nil
	}
	var what []string
	if usesDemoSecret {
		what = append(what, "the demo HS256 secret")
	}
	if usesDemoKeys {
		what = append(what, "demo producer/project keys")
	}
	return fmt.Errorf("%w: refusing to listen on %q with %s; bind to 127.0.0.1 or configure your own secret and keys",
		ErrDemoOnPublic, listenAddr, strings.Join(what, " and "))
}

func isLoopback(listenAddr string) bool {
	host, _, err := net.SplitHostPort(listenAddr)
	if err != nil {
		host = listenAddr // no port
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.Unmap().IsLoopback()
}
