package auth

import (
	"errors"
)

// ErrInvalidCredentials is wrapped by every error Verify and Authenticate return. The HTTP layer
// answers it with "401 invalid credentials" and nothing more; the Reason is for its log.
var ErrInvalidCredentials = errors.New("invalid credentials")

// Reason says why credentials were refused. It is for logs and metrics only, never for the client.
type Reason string

// Reasons of a refused token.
const (
	ReasonNoToken         Reason = "no_token"         // no or malformed Authorization header
	ReasonMalformed       Reason = "malformed"        // not a well-formed JWT, or a claim of the wrong type
	ReasonAlgorithm       Reason = "algorithm"        // alg not allowed (none, unknown, not configured, not the key's)
	ReasonUnknownKey      Reason = "unknown_key"      // no key for the token's kid, even after a refresh
	ReasonKeysUnavailable Reason = "keys_unavailable" // the JWKS could not be loaded and no keys are cached
	ReasonBadSignature    Reason = "bad_signature"    // signature does not verify
	ReasonExpired         Reason = "expired"          // exp passed (beyond the leeway)
	ReasonNotYetValid     Reason = "not_yet_valid"    // nbf or iat in the future (beyond the leeway)
	ReasonBadTimes        Reason = "bad_times"        // nbf or iat after exp
	ReasonWrongIssuer     Reason = "wrong_issuer"     // iss is not the configured issuer
	ReasonWrongAudience   Reason = "wrong_audience"   // aud does not contain the configured audience
	ReasonMissingClaim    Reason = "missing_claim"    // exp, iss, aud or sub missing
	ReasonNoRole          Reason = "no_role"          // no role claimed
	ReasonUnknownRole     Reason = "unknown_role"     // a claimed role is not a spendstream role
	ReasonMixedRoles      Reason = "mixed_roles"      // cross-tenant and tenant-scoped roles together
	ReasonMissingTenant   Reason = "missing_tenant"   // tenant-scoped role without tenant_id
	ReasonInvalidTenant   Reason = "invalid_tenant"   // tenant_id is not a valid tenant id
	ReasonUnknownProducer Reason = "unknown_producer" // producer key not configured
)

// CredentialError is the error Verify, Authenticate and ProducerKeys.Authorize return. It matches
// ErrInvalidCredentials with errors.Is; its Error text names the reason and the underlying cause
// (for logs only).
type CredentialError struct {
	Reason Reason
	Err    error // the cause, may be nil
}

func (e *CredentialError) Error() string {
	if e.Err == nil {
		return "invalid credentials: " + string(e.Reason)
	}
	return "invalid credentials: " + string(e.Reason) + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *CredentialError) Unwrap() error { return e.Err }

// Is makes every CredentialError match ErrInvalidCredentials.
func (e *CredentialError) Is(target error) bool { return target == ErrInvalidCredentials }

// ReasonOf returns the Reason of a refused credential, or "" when err is not a CredentialError.
func ReasonOf(err error) Reason {
	var ce *CredentialError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}

func refuse(r Reason, cause error) error { return &CredentialError{Reason: r, Err: cause} }
