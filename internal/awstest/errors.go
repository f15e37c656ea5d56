package awstest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
)

// apiError is an error answer, written in the protocol of the service that
// gives it.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

// newError returns an error answer with an HTTP status, an AWS error code
// and a message.
func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// Client errors shared by the JSON services. Secrets Manager and Parameter
// Store answer with the same codes for these.
func errValidation(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "ValidationException", format, args...)
}

func errSerialization(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "SerializationException", format, args...)
}

func errAccessDenied(caller, action, resource string) *apiError {
	return newError(http.StatusBadRequest, "AccessDeniedException",
		"User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
		caller, action, resource, action)
}

func errThrottling() *apiError {
	return newError(http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
}

// Authentication errors differ by protocol: the JSON services and STS name
// the same failure differently, and STS answers 403 where they answer 400.
type authFailure int

const (
	authMissing authFailure = iota
	authIncomplete
	authUnknownKey
	authBadSignature
	authExpiredToken
	authSkew
)

func authError(f authFailure, query bool, msg string) *apiError {
	type codes struct {
		json, sts  string
		stsStatus  int
		defaultMsg string
	}
	c := map[authFailure]codes{
		authMissing:      {"MissingAuthenticationTokenException", "MissingAuthenticationToken", 403, "Request is missing Authentication Token"},
		authIncomplete:   {"IncompleteSignatureException", "IncompleteSignature", 400, "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."},
		authUnknownKey:   {"UnrecognizedClientException", "InvalidClientTokenId", 403, "The security token included in the request is invalid."},
		authBadSignature: {"InvalidSignatureException", "SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		authExpiredToken: {"ExpiredTokenException", "ExpiredToken", 400, "The security token included in the request is expired"},
		authSkew:         {"InvalidSignatureException", "SignatureDoesNotMatch", 403, ""},
	}[f]
	if msg == "" {
		msg = c.defaultMsg
	}
	if query {
		return &apiError{status: c.stsStatus, code: c.sts, msg: msg}
	}
	return &apiError{status: http.StatusBadRequest, code: c.json, msg: msg}
}

// writeJSONError writes an AWS JSON 1.1 error: the code in __type and in
// the X-Amzn-ErrorType header, as the services do. messageKey is "Message"
// for Secrets Manager and "message" for Parameter Store; both clients read
// either.
func writeJSONError(w http.ResponseWriter, e *apiError, messageKey string) {
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("X-Amzn-ErrorType", e.code)
	body, _ := json.Marshal(map[string]string{"__type": e.code, messageKey: e.msg})
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// stsErrorResponse is the query protocol's error document.
type stsErrorResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func writeXMLError(w http.ResponseWriter, e *apiError, requestID string) {
	var doc stsErrorResponse
	doc.Error.Type = "Sender"
	if e.status >= 500 {
		doc.Error.Type = "Receiver"
	}
	doc.Error.Code, doc.Error.Message, doc.RequestID = e.code, e.msg, requestID
	writeXML(w, e.status, doc)
}

func writeXML(w http.ResponseWriter, status int, doc any) {
	body, err := xml.Marshal(doc)
	if err != nil {
		http.Error(w, "encode answer", http.StatusInternalServerError)
		return
	}
	body = append([]byte(xml.Header), body...)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
