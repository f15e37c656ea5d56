package awstest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
	// maxSkew is how far a request's signing time may be from the
	// server's clock, as AWS allows.
	maxSkew = 15 * time.Minute
	// maxAuthorization bounds the Authorization header parsed.
	maxAuthorization = 4 << 10
	// maxSignedHeaders bounds the headers a signature may name.
	maxSignedHeaders = 64
)

// authorization is a parsed AWS Signature Version 4 Authorization header.
type authorization struct {
	accessKey string
	// date, region and service are the credential scope.
	date, region, service string
	// signedHeaders are the lower-case header names signed, in the order
	// sent (the signer sorts them).
	signedHeaders []string
	// signature is 64 lower-case hex digits.
	signature string
}

// parseAuthorization parses
//
//	AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=<hex>
//
// Errors say what is missing, never echo the header.
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	if len(h) > maxAuthorization {
		return a, errors.New("header is too long")
	}
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != sigV4Algorithm {
		return a, errors.New("only AWS4-HMAC-SHA256 signatures are supported")
	}
	var cred, signed, sig string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, errors.New("parameters must be key=value")
		}
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			sig = v
		}
	}
	if cred == "" || signed == "" || sig == "" {
		return a, errors.New("'Credential', 'Signature' and 'SignedHeaders' parameters are required")
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[0] == "" || scope[4] != "aws4_request" {
		return a, errors.New("credential must be <access key>/<date>/<region>/<service>/aws4_request")
	}
	if _, err := time.Parse("20060102", scope[1]); err != nil {
		return a, errors.New("credential date must be YYYYMMDD")
	}
	if scope[2] == "" || scope[3] == "" {
		return a, errors.New("credential must name a region and a service")
	}
	a.accessKey, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	a.signedHeaders = strings.Split(signed, ";")
	if len(a.signedHeaders) > maxSignedHeaders {
		return a, errors.New("too many signed headers")
	}
	for _, name := range a.signedHeaders {
		if name == "" || name != strings.ToLower(name) {
			return a, errors.New("signed headers must be lower-case names separated by ';'")
		}
	}
	if !slices.Contains(a.signedHeaders, "host") {
		return a, errors.New("the host header must be signed")
	}
	if len(sig) != 64 {
		return a, errors.New("signature must be 64 hex digits")
	}
	if _, err := hex.DecodeString(sig); err != nil {
		return a, errors.New("signature must be 64 hex digits")
	}
	a.signature = strings.ToLower(sig)
	return a, nil
}

// authenticate checks the request's signature and returns who signed it.
// The signature is computed again with the SDK's own signer from the
// request as received and the secret of the access key it names, so a
// client that signs differently from the SDK (botocore) is checked
// against the reference implementation.
func (s *Server) authenticate(r *http.Request, c *call) (*principal, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			return nil, authError(authIncomplete, c.query, "presigned requests are not supported")
		}
		return nil, authError(authMissing, c.query, "")
	}
	a, err := parseAuthorization(h)
	if err != nil {
		return nil, authError(authIncomplete, c.query, "Invalid Authorization header: "+err.Error())
	}
	signedAt, err := time.Parse(amzDateFormat, r.Header.Get("X-Amz-Date"))
	if err != nil {
		return nil, authError(authIncomplete, c.query, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if a.date != signedAt.Format("20060102") {
		return nil, authError(authBadSignature, c.query, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP")
	}
	now := s.now().UTC()
	if signedAt.Before(now.Add(-maxSkew)) {
		return nil, authError(authSkew, c.query, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			signedAt.Format(amzDateFormat), now.Add(-maxSkew).Format(amzDateFormat), now.Format(amzDateFormat)))
	}
	if signedAt.After(now.Add(maxSkew)) {
		return nil, authError(authSkew, c.query, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			signedAt.Format(amzDateFormat), now.Add(maxSkew).Format(amzDateFormat), now.Format(amzDateFormat)))
	}
	if a.service != c.service {
		return nil, authError(authBadSignature, c.query, fmt.Sprintf("Credential should be scoped to correct service: '%s'.", c.service))
	}
	if a.region != s.region {
		return nil, authError(authBadSignature, c.query, fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", a.region))
	}

	s.mu.Lock()
	k, ok := s.keys[a.accessKey]
	var key accessKey
	if ok {
		key = *k
	}
	s.mu.Unlock()
	if !ok {
		return nil, authError(authUnknownKey, c.query, "")
	}
	token := r.Header.Get("X-Amz-Security-Token")
	if token != key.SessionToken {
		// A session key without its token, a long-term key with one, or
		// the token of another session.
		return nil, authError(authUnknownKey, c.query, "")
	}
	if !key.Expires.IsZero() && !now.Before(key.Expires) {
		return nil, authError(authExpiredToken, c.query, "")
	}
	if !s.signatureMatches(r, c.body, a, signedAt, key.Credentials) {
		return nil, authError(authBadSignature, c.query, "")
	}
	return key.principal, nil
}

// signatureMatches signs a copy of the request holding only what the
// client signed, with the SDK's signer, and compares the signatures.
func (s *Server) signatureMatches(r *http.Request, body []byte, a authorization, signedAt time.Time, creds Credentials) bool {
	// The path is signed normalized, as AWS's services other than S3
	// check it: Vault's AWS method forwards a GetCallerIdentity signed for
	// "/" to <sts_endpoint>/ + "/", and STS accepts it.
	u := &url.URL{Scheme: "http", Host: r.Host, Path: normalizePath(r.URL.Path), RawQuery: r.URL.RawQuery}
	if r.URL.RawPath != "" {
		u.RawPath = normalizePath(r.URL.RawPath)
	}
	clone := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: http.Header{}}
	for _, name := range a.signedHeaders {
		switch name {
		case "host":
			continue
		case "content-length":
			// The whole body was read, so its length is what was sent.
			clone.ContentLength = int64(len(body))
			continue
		}
		vals := r.Header.Values(name)
		if len(vals) == 0 {
			return false // signed a header that was not sent
		}
		clone.Header[http.CanonicalHeaderKey(name)] = vals
	}
	sum := sha256.Sum256(body)
	err := s.signer.SignHTTP(context.Background(), aws.Credentials{
		AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken,
	}, clone, hex.EncodeToString(sum[:]), a.service, a.region, signedAt)
	if err != nil {
		return false
	}
	want, err := parseAuthorization(clone.Header.Get("Authorization"))
	if err != nil {
		return false
	}
	sent := slices.Clone(a.signedHeaders)
	slices.Sort(sent)
	if !slices.Equal(sent, want.signedHeaders) {
		// The signer adds X-Amz-Security-Token itself: a client that left
		// its token unsigned signed less than the reference does.
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want.signature), []byte(a.signature)) == 1
}

// normalizePath is the canonical path of a SigV4 signature for services
// other than S3: dot segments removed (RFC 3986, 5.2.4) and consecutive
// slashes collapsed, the leading slash kept, a trailing one kept unless
// nothing is left. botocore normalizes the same way before signing.
func normalizePath(p string) string {
	var out []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	n := "/" + strings.Join(out, "/")
	if len(out) > 0 && strings.HasSuffix(p, "/") {
		n += "/"
	}
	return n
}
