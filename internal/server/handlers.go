package server

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/crypto"
	"github.com/sealsync/sealsync/internal/manifest"
	"github.com/sealsync/sealsync/internal/sealing"
)

// The routes, which are also the metrics' path labels.
const (
	routeHealthz = "/healthz"
	routeCert    = "/v1/cert.pem"
	routeVerify  = "/v1/verify"
	routeRotate  = "/v1/rotate"
	routeKeys    = "/v1/keys"
	routeRefresh = "/v1/refresh"
)

// noKeyMessage is the body of every 503: the controller has not loaded or
// generated a key yet.
const noKeyMessage = "no sealing key available yet: the controller is still loading or generating its first key"

// conflictMessage is the body of every 409. It is the same whatever failed
// (wrong key, wrong scope, tampered value, bad base64), so the answer
// carries one bit: unseals or not.
const conflictMessage = "the SealedSecret cannot be unsealed with this controller's keys"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// Probes must stay cheap and never be refused, or kubelet restarts a
	// busy controller.
	mux.HandleFunc(http.MethodGet+" "+routeHealthz, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	s.handle(mux, http.MethodGet, routeCert, s.cert)
	s.handle(mux, http.MethodGet, routeKeys, s.listKeys)
	s.handle(mux, http.MethodPost, routeVerify, s.verify)
	s.handle(mux, http.MethodPost, routeRotate, s.rotate)
	if s.opts.Refresher != nil {
		s.handle(mux, http.MethodPost, routeRefresh, s.refresh)
	}
	return mux
}

func (s *Server) handle(mux *http.ServeMux, method, route string, h http.HandlerFunc) {
	mux.Handle(method+" "+route, s.metrics.instrument(route, s.rateLimited(route, h)))
}

// cert serves the certificate of the newest active key, the one kubeseal
// seals to. Like Bitnami's, it serves that one certificate only.
func (s *Server) cert(w http.ResponseWriter, _ *http.Request) {
	latest, err := s.keys.Keyring().Latest()
	if err != nil {
		http.Error(w, noKeyMessage, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(crypto.EncodeCertificatePEM(latest.Certificate))
}

// listKeys serves what anyone may know about each key: never the private
// key, not even the certificate.
func (s *Server) listKeys(w http.ResponseWriter, _ *http.Request) {
	ring := s.keys.Keyring()
	latest, _ := ring.Latest()
	list := KeyList{Keys: make([]KeyInfo, 0, ring.Len())}
	for _, k := range ring.Keys() {
		info := KeyInfo{
			ID:      k.ID.String(),
			Status:  k.Status.String(),
			Created: k.Created.UTC().Format(time.RFC3339),
			Latest:  k == latest,
		}
		if k.Certificate != nil {
			info.NotAfter = k.Certificate.NotAfter.UTC().Format(time.RFC3339)
		}
		list.Keys = append(list.Keys, info)
	}
	body, err := json.Marshal(list)
	if err != nil {
		s.log.Error(err, "encode key list")
		http.Error(w, "cannot encode the key list", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}

// verify answers 200 if every value of the posted SealedSecret unseals with
// the keyring under the scope its top-level metadata declares, 409 if not.
// Templates are not run: see the package documentation.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	ring := s.keys.Keyring()
	if ring.Len() == 0 {
		closeUnread(w)
		http.Error(w, noKeyMessage, http.StatusServiceUnavailable)
		return
	}
	body, ok := s.readBody(w, r, routeVerify, s.opts.MaxBodyBytes)
	if !ok {
		return
	}
	defer body.release()
	release, ok := s.acquire(w, s.heavy, routeVerify)
	if !ok {
		return
	}
	defer release()
	ss, err := decodeSealedSecret(body.b)
	if err != nil {
		s.badRequest(w, routeVerify, err)
		return
	}
	if !s.withinItemLimit(w, routeVerify, ss) {
		return
	}
	if err := checkUnseal(ring, ss, s.opts.AcceptV1Data); err != nil {
		s.log.V(1).Info("verify: cannot unseal", "namespace", ss.Namespace, "name", ss.Name, "error", err.Error())
		http.Error(w, conflictMessage, http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// checkUnseal opens every value of ss and throws the plaintext away. The
// deprecated spec.data is tried only when acceptV1Data is set.
func checkUnseal(ring *crypto.Keyring, ss *ssv1alpha1.SealedSecret, acceptV1Data bool) error {
	switch {
	case len(ss.Spec.Data) > 0 && len(ss.Spec.EncryptedData) > 0:
		return sealing.ErrBothDataFields
	case len(ss.Spec.Data) > 0 && !acceptV1Data:
		// Refused as the controller refuses to unseal it: the answer is
		// about what the controller would do, and costs no key operation.
		return sealing.ErrV1DataRefused
	case len(ss.Spec.Data) > 0:
		// The deprecated format seals a whole Secret as one value, which the
		// controller unseals with --accept-deprecated-v1-data (Bitnami's
		// default). It has no templates; only what binds the value is
		// passed on, so none can run whatever Unseal does.
		bare := &ssv1alpha1.SealedSecret{
			ObjectMeta: ss.ObjectMeta,
			Spec:       ssv1alpha1.SealedSecretSpec{Data: ss.Spec.Data},
		}
		secret, _, err := sealing.Unseal(ring, bare, sealing.Options{AcceptV1Data: true})
		if err == nil {
			wipe(secret.Data)
		}
		return err
	}
	// One item at a time, so that the first that does not open ends the
	// work: a value no key opens costs a private-key operation per key, and
	// a body of a thousand such values would otherwise cost a thousand
	// times that. The key that opened one item is the hint for the next,
	// as within UnsealItems.
	one := &ssv1alpha1.SealedSecret{ObjectMeta: *ss.ObjectMeta.DeepCopy()}
	for _, k := range slices.Sorted(maps.Keys(ss.Spec.EncryptedData)) {
		one.Spec.EncryptedData = ssv1alpha1.SealedSecretEncryptedData{k: ss.Spec.EncryptedData[k]}
		u, err := sealing.UnsealItems(ring, one)
		if err != nil {
			return err
		}
		wipe(u.Items)
		if one.Annotations == nil {
			one.Annotations = map[string]string{}
		}
		one.Annotations[ssv1alpha1.KeyIDAnnotation] = u.Keys[0].String()
	}
	return nil
}

// wipe zeroes plaintext that is no longer needed rather than leave it to
// the garbage collector.
func wipe(items map[string][]byte) {
	for _, v := range items {
		clear(v)
	}
}

// rotate answers the posted SealedSecret re-sealed with the newest active
// key, as JSON. Values keep the scope, name and namespace of its top-level
// metadata; the template is copied, never run.
func (s *Server) rotate(w http.ResponseWriter, r *http.Request) {
	ring := s.keys.Keyring()
	latest, err := ring.Latest()
	if err != nil {
		closeUnread(w)
		http.Error(w, noKeyMessage, http.StatusServiceUnavailable)
		return
	}
	body, ok := s.readBody(w, r, routeRotate, s.opts.MaxBodyBytes)
	if !ok {
		return
	}
	defer body.release()
	release, ok := s.acquire(w, s.heavy, routeRotate)
	if !ok {
		return
	}
	defer release()
	ss, err := decodeSealedSecret(body.b)
	if err != nil {
		s.badRequest(w, routeRotate, err)
		return
	}
	if !s.withinItemLimit(w, routeRotate, ss) {
		return
	}
	if len(ss.Spec.Data) > 0 {
		s.badRequest(w, routeRotate, errors.New("cannot re-encrypt the deprecated spec.data field: unseal the Secret and seal it again"))
		return
	}
	// Reseal fails only when a value does not open: sealing to a valid
	// RSA key with crypto/rand cannot fail.
	out, err := sealing.Reseal(ring, sealing.NewSealer(rand.Reader, &latest.PrivateKey.PublicKey), ss)
	if err != nil {
		s.log.V(1).Info("rotate: cannot unseal", "namespace", ss.Namespace, "name", ss.Name, "error", err.Error())
		http.Error(w, conflictMessage, http.StatusConflict)
		return
	}
	var buf bytes.Buffer
	if err := manifest.Encode(&buf, manifest.JSON, out); err != nil {
		s.log.Error(err, "rotate: encode", "namespace", ss.Namespace, "name", ss.Name)
		http.Error(w, "cannot encode the re-encrypted SealedSecret", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
}

// requestBody is a body read into memory and the bytes of the budget it
// holds until release.
type requestBody struct {
	b       []byte
	release func()
}

// readBody reads the request body up to limit bytes (Options.MaxBodyBytes
// or less), answering 413 beyond it. The bytes the body may need (its Content-Length, else the
// limit) are reserved from Options.MaxBufferedBytes before a byte is read,
// and the request gets 429 if they are not free: slow uploads in parallel
// hold at most that much memory. The caller must release the body.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, route string, limit int64) (requestBody, bool) {
	if r.ContentLength > limit {
		s.tooLarge(w, route, limit)
		return requestBody{}, false
	}
	need := limit
	if r.ContentLength >= 0 {
		need = r.ContentLength
	}
	if !s.buffered.take(need) {
		s.log.V(1).Info("request body budget spent", "path", route, "limit", s.opts.MaxBufferedBytes)
		tooMany(w, time.Second, "too many requests: server busy")
		return requestBody{}, false
	}
	body := requestBody{release: func() { s.buffered.give(need) }}
	// The reserved bytes are held while the body trickles in: it gets a
	// deadline of its own, shorter than the whole request's. Not every
	// ResponseWriter (httptest's) can set one.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(min(s.opts.ReadTimeout, bodyReadTimeout)))
	var err error
	if r.ContentLength >= 0 {
		// net/http never reads past Content-Length.
		body.b = make([]byte, need)
		_, err = io.ReadFull(r.Body, body.b)
	} else {
		body.b, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	if err != nil {
		body.release()
		if tooLarge, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.tooLarge(w, route, tooLarge.Limit)
			return requestBody{}, false
		}
		s.log.V(1).Info("cannot read request body", "path", route, "error", err.Error())
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return requestBody{}, false
	}
	return body, true
}

func (s *Server) tooLarge(w http.ResponseWriter, route string, limit int64) {
	s.log.V(1).Info("request body too large", "path", route, "limit", limit)
	closeUnread(w)
	http.Error(w, fmt.Sprintf("request body exceeds %d bytes", limit), http.StatusRequestEntityTooLarge)
}

// closeUnread makes an answer given before the request body was read
// close the connection. Otherwise net/http, to reuse the connection,
// reads up to 256 KiB of the unread body before sending the answer, and a
// client that sends it slowly holds the request open regardless.
func closeUnread(w http.ResponseWriter) { w.Header().Set("Connection", "close") }

// withinItemLimit answers 413 and returns false when ss has more
// encryptedData items than Options.MaxItems, before any is opened.
func (s *Server) withinItemLimit(w http.ResponseWriter, route string, ss *ssv1alpha1.SealedSecret) bool {
	n := len(ss.Spec.EncryptedData)
	if n <= s.opts.MaxItems {
		return true
	}
	s.log.V(1).Info("too many items", "path", route, "items", n, "limit", s.opts.MaxItems)
	http.Error(w, fmt.Sprintf("the SealedSecret has %d items; this controller opens at most %d per request", n, s.opts.MaxItems), http.StatusRequestEntityTooLarge)
	return false
}

// badRequest answers 400 with err, which must not quote the input: decode
// errors from package manifest never do.
func (s *Server) badRequest(w http.ResponseWriter, route string, err error) {
	s.log.V(1).Info("bad request", "path", route, "error", err.Error())
	http.Error(w, err.Error(), http.StatusBadRequest)
}

// decodeSealedSecret decodes exactly one SealedSecret, JSON or YAML. Several
// documents are refused, as Bitnami does: the answer is about one object.
func decodeSealedSecret(body []byte) (*ssv1alpha1.SealedSecret, error) {
	docs, err := manifest.Split(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("want exactly one SealedSecret, found %d documents", len(docs))
	}
	return manifest.DecodeDocument[ssv1alpha1.SealedSecret](docs[0], ssv1alpha1.SchemeGroupVersion.WithKind("SealedSecret"))
}
