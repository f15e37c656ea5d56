package awstest

import (
	"maps"
	"net/http"
	"time"
)

// FaultKind is how an injected fault fails a request.
type FaultKind int

const (
	// Throttle answers the throttling error of the service:
	// ThrottlingException (Secrets Manager, Parameter Store) or Throttling
	// (STS), HTTP 400, "Rate exceeded".
	Throttle FaultKind = iota
	// Unavailable answers HTTP 503 ServiceUnavailable.
	Unavailable
	// InternalError answers HTTP 500 with the service's internal error
	// code (InternalServiceError, InternalServerError, InternalFailure).
	InternalError
	// Reset closes the connection without an answer.
	Reset
)

// Fault makes matching requests fail, after their signature was checked.
// For an outage where connections are refused, see [Server.Down].
type Fault struct {
	// Service and Action select the requests ("ssm", "GetParameters");
	// empty matches any.
	Service, Action string
	// Kind is how the requests fail.
	Kind FaultKind
	// Every fails every Nth matching request, starting with the Nth; 0
	// or 1 fails every one.
	Every int
	// Limit ends the fault once it has failed this many requests; 0 means
	// no limit.
	Limit int
	// From and Until bound the fault in the server's time; zero values
	// leave that side open.
	From, Until time.Time
}

type fault struct {
	Fault
	seen, failed int
}

// Inject adds a fault and returns a function that removes it. Faults are
// tried in the order they were added; the first that fails a request
// wins.
func (s *Server) Inject(f Fault) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ff := &fault{Fault: f}
	s.faults = append(s.faults, ff)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.faults {
			if x == ff {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
				return
			}
		}
	}
}

// fault returns the fault that fails c, or nil.
func (s *Server) fault(c *call) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, f := range s.faults {
		if (f.Service != "" && f.Service != c.service) || (f.Action != "" && f.Action != c.action) {
			continue
		}
		if (!f.From.IsZero() && now.Before(f.From)) || (!f.Until.IsZero() && !now.Before(f.Until)) {
			continue
		}
		if f.Limit > 0 && f.failed >= f.Limit {
			continue
		}
		f.seen++
		if f.Every > 1 && f.seen%f.Every != 0 {
			continue
		}
		f.failed++
		return f
	}
	return nil
}

func (f *fault) apiError(c *call) *apiError {
	switch f.Kind {
	case Unavailable:
		return newError(http.StatusServiceUnavailable, "ServiceUnavailable", "Service is unavailable")
	case InternalError:
		code := map[string]string{SecretsManager: "InternalServiceError", SSM: "InternalServerError", STS: "InternalFailure"}[c.service]
		return newError(http.StatusInternalServerError, code, "An internal error occurred")
	}
	if c.query {
		return newError(http.StatusBadRequest, "Throttling", "Rate exceeded")
	}
	return errThrottling()
}

// Call is what [Server.Calls] counts requests by.
type Call struct {
	// Service is "secretsmanager", "ssm" or "sts".
	Service string
	// Action is the operation, "GetSecretValue".
	Action string
	// Caller is the ARN of the signed-in caller: a user, or an assumed
	// role's session (arn:aws:sts::…:assumed-role/NAME/SESSION). Empty
	// for anonymous calls (AssumeRoleWithWebIdentity) and for calls whose
	// signature was refused.
	Caller string
	// Code is the error code answered, "" for success, "Reset" for a
	// dropped connection.
	Code string
}

func (s *Server) count(c *call, code string) {
	k := Call{Service: c.service, Action: c.action, Code: code}
	if c.caller != nil {
		k.Caller = c.caller.arn
	}
	s.mu.Lock()
	s.calls[k]++
	s.mu.Unlock()
}

// Calls returns how many requests the server answered, by [Call].
func (s *Server) Calls() map[Call]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// Count returns how many requests for an action of a service the server
// answered, whoever called and however it ended; an empty action counts
// every action of the service.
func (s *Server) Count(service, action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.calls {
		if k.Service == service && (action == "" || k.Action == action) {
			n += v
		}
	}
	return n
}

// ResetCalls sets every count to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
}
