package awstest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	// DefaultRegion is the region a server serves unless told otherwise.
	DefaultRegion = "us-east-1"
	// DefaultAccount is the account ID in a server's ARNs unless told
	// otherwise: the one AWS's own documentation uses.
	DefaultAccount = "123456789012"

	// maxBody bounds a request body, in bytes. The largest legal request,
	// a 64 KiB secret sent as base64 inside JSON, is far below it.
	maxBody = 1 << 20
	// maxFormParams bounds the parameters of a query-protocol request.
	maxFormParams = 500

	jsonContentType = "application/x-amz-json-1.1"
)

// Service names, as AWS signs them and as [Call] counts them.
const (
	SecretsManager = "secretsmanager"
	SSM            = "ssm"
	STS            = "sts"
)

// Options configure a [Server].
type Options struct {
	// Region is the one region the server serves: a request signed for
	// another is refused, as a regional endpoint refuses it. Empty means
	// [DefaultRegion].
	Region string
	// Account is the account ID of every ARN the server makes. Empty means
	// [DefaultAccount].
	Account string
	// Now is the server's clock, for signature dates, session expiry,
	// deletion windows and timestamps. Nil means time.Now.
	Now func() time.Time
	// Addr is where [Server.Start] listens. Empty means 127.0.0.1 on a
	// free port.
	Addr string
}

// Server is an in-memory Secrets Manager, Parameter Store and STS behind
// one HTTP endpoint. It is safe for concurrent use. Configure identities
// and data through its methods, or through any AWS client.
type Server struct {
	region, account string
	now             func() time.Time
	signer          *v4.Signer

	mu       sync.Mutex
	users    map[string]*user         // by name
	keys     map[string]*accessKey    // by access key ID
	roles    map[string]*role         // by ARN
	oidc     map[string]*OIDCProvider // by issuer
	sessions []Session
	secrets  map[string]*secret // by name
	params   map[string]*parameter
	badKeys  map[string]bool // KMS key IDs that fail to decrypt
	faults   []*fault
	calls    map[Call]int

	lnMu sync.Mutex
	addr string
	ln   net.Listener
	http *http.Server
}

// New returns a server with no identities and no data that does not
// listen yet: use it as an http.Handler, or call [Server.Start].
func New(opts Options) *Server {
	s := &Server{
		region:  opts.Region,
		account: opts.Account,
		now:     opts.Now,
		addr:    opts.Addr,
		signer:  v4.NewSigner(),
		users:   map[string]*user{},
		keys:    map[string]*accessKey{},
		roles:   map[string]*role{},
		oidc:    map[string]*OIDCProvider{},
		secrets: map[string]*secret{},
		params:  map[string]*parameter{},
		badKeys: map[string]bool{},
		calls:   map[Call]int{},
	}
	if s.region == "" {
		s.region = DefaultRegion
	}
	if s.account == "" {
		s.account = DefaultAccount
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.addr == "" {
		s.addr = "127.0.0.1:0"
	}
	return s
}

// Region returns the region the server serves.
func (s *Server) Region() string { return s.region }

// Account returns the account ID of the server's ARNs.
func (s *Server) Account() string { return s.account }

// Start listens on the configured address and serves until Close.
func (s *Server) Start() error {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	return s.listen()
}

func (s *Server) listen() error {
	if s.ln != nil {
		return errors.New("awstest: already listening")
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("awstest: listen: %w", err)
	}
	// Keep the port: Up listens on the same one after Down.
	s.addr = ln.Addr().String()
	s.ln = ln
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(s.http)
	return nil
}

// URL returns the endpoint to give clients, http://host:port.
func (s *Server) URL() string {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	return "http://" + s.addr
}

// Down stops listening and drops open connections, so clients get
// "connection refused" until [Server.Up]. Data and identities stay.
func (s *Server) Down() error {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.http == nil {
		return nil
	}
	err := s.http.Close()
	s.http, s.ln = nil, nil
	return err
}

// Up listens again on the address the server had before [Server.Down].
func (s *Server) Up() error {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.ln != nil {
		return nil
	}
	// The port was free a moment ago; another process may take it in
	// between, which a test then sees as an error here.
	return s.listen()
}

// Close stops the server.
func (s *Server) Close() error { return s.Down() }

// call is one request on its way through the server.
type call struct {
	service string
	action  string
	query   bool // the STS query protocol: XML answers
	body    []byte
	form    url.Values
	caller  *principal
	reqID   string
}

// ServeHTTP answers one AWS request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{reqID: newRequestID()}
	w.Header().Set("X-Amzn-Requestid", c.reqID)
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return // the client went away
	}
	if len(body) > maxBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	c.body = body
	if aerr := s.route(c, r); aerr != nil {
		s.answer(w, c, nil, aerr)
		return
	}
	if !c.anonymous() {
		p, aerr := s.authenticate(r, c)
		if aerr != nil {
			s.answer(w, c, nil, aerr)
			return
		}
		c.caller = p
	}
	switch f := s.fault(c); {
	case f == nil:
	case f.Kind == Reset:
		s.count(c, "Reset")
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	default:
		s.answer(w, c, nil, f.apiError(c))
		return
	}
	out, aerr := s.dispatch(c)
	s.answer(w, c, out, aerr)
}

// anonymous reports whether the call is one AWS takes unsigned: the web
// identity token is the credential.
func (c *call) anonymous() bool {
	return c.service == STS && c.action == "AssumeRoleWithWebIdentity"
}

// route finds the service and action of a request: X-Amz-Target for the
// JSON services, the Action parameter for STS.
func (s *Server) route(c *call, r *http.Request) *apiError {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		prefix, action, _ := strings.Cut(target, ".")
		switch prefix {
		case "secretsmanager":
			c.service = SecretsManager
		case "AmazonSSM":
			c.service = SSM
		default:
			c.service = "unknown"
			return newError(http.StatusBadRequest, "UnknownOperationException", "")
		}
		c.action = action
		if r.Method != http.MethodPost {
			return newError(http.StatusBadRequest, "UnknownOperationException", "")
		}
		if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); ct != jsonContentType && ct != "application/x-amz-json-1.0" {
			return errSerialization("unexpected content type %q", ct)
		}
		return nil
	}
	c.service, c.query = STS, true
	form, aerr := parseForm(r, c.body)
	if aerr != nil {
		return aerr
	}
	c.form = form
	c.action = form.Get("Action")
	if c.action == "" {
		return newError(http.StatusBadRequest, "MissingAction", "Missing Action")
	}
	if v := form.Get("Version"); v != "2011-06-15" {
		return newError(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", c.action, v)
	}
	return nil
}

// parseForm reads a query-protocol request: parameters in the URL and, for
// a form POST, in the body. The body is kept for the signature check.
func parseForm(r *http.Request, body []byte) (url.Values, *apiError) {
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, newError(http.StatusBadRequest, "MalformedQueryString", "the query string is not valid")
	}
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); r.Method == http.MethodPost && strings.TrimSpace(ct) == "application/x-www-form-urlencoded" {
		bodyForm, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, newError(http.StatusBadRequest, "MalformedQueryString", "the request body is not a valid form")
		}
		for k, v := range bodyForm {
			form[k] = append(form[k], v...)
		}
	}
	if len(form) > maxFormParams {
		return nil, newError(http.StatusBadRequest, "ValidationError", "too many parameters")
	}
	return form, nil
}

// dispatch runs the action under the server's lock.
func (s *Server) dispatch(c *call) (any, *apiError) {
	var h func(*Server, *call) (any, *apiError)
	switch c.service {
	case SecretsManager:
		h = secretsManagerActions[c.action]
	case SSM:
		h = ssmActions[c.action]
	case STS:
		h = stsActions[c.action]
	}
	if h == nil {
		if c.query {
			return nil, newError(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version 2011-06-15", c.action)
		}
		return nil, newError(http.StatusBadRequest, "UnknownOperationException", "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return h(s, c)
}

// answer writes out or aerr in the call's protocol and counts the call.
func (s *Server) answer(w http.ResponseWriter, c *call, out any, aerr *apiError) {
	if aerr != nil {
		s.count(c, aerr.code)
		switch {
		case c.query:
			writeXMLError(w, aerr, c.reqID)
		case c.service == SSM:
			writeJSONError(w, aerr, "message")
		default:
			writeJSONError(w, aerr, "Message")
		}
		return
	}
	s.count(c, "")
	if c.query {
		writeXML(w, http.StatusOK, out)
		return
	}
	var buf bytes.Buffer
	if out == nil {
		out = struct{}{}
	}
	if err := json.NewEncoder(&buf).Encode(out); err != nil {
		s.answer(w, c, nil, newError(http.StatusInternalServerError, "InternalFailure", "encode answer"))
		return
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// decodeJSON reads a JSON request body into v. An empty body is an empty
// object, as the services take it.
func decodeJSON(c *call, v any) *apiError {
	body := bytes.TrimSpace(c.body)
	if len(body) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(v); err != nil {
		// json's errors quote input bytes; say only where it failed.
		return errSerialization("the request body is not valid JSON for %s", c.action)
	}
	if d.More() {
		return errSerialization("the request body holds more than one JSON value")
	}
	return nil
}

// newRequestID returns a random request ID in the form AWS uses.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// epoch is a timestamp as the JSON protocols write it: seconds since the
// epoch, with a fraction.
type epoch time.Time

// MarshalJSON writes seconds since the epoch with millisecond precision.
func (e epoch) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(e).UnixMilli())/1e3, 'f', -1, 64), nil
}

// epochPtr returns nil for the zero time, so that omitempty drops it.
func epochPtr(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}
