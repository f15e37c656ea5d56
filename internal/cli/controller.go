package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	ssv1alpha1 "github.com/sealsync/sealsync/api/sealedsecrets/v1alpha1"
	"github.com/sealsync/sealsync/internal/manifest"
)

// controllerClient reaches the controller's HTTP API through the API
// server's service proxy, as Bitnami's kubeseal does, so it works wherever
// kubectl works and needs only services/proxy permission.
type controllerClient struct {
	core      corev1client.CoreV1Interface
	namespace string
	name      string
}

func (o *options) controller() (*controllerClient, error) {
	conf, err := o.clientConfig().ClientConfig()
	if err != nil {
		return nil, err
	}
	conf.AcceptContentTypes = "application/x-pem-file, application/json, */*"
	core, err := corev1client.NewForConfig(conf)
	if err != nil {
		return nil, err
	}
	return &controllerClient{core: core, namespace: o.controllerNs, name: o.controllerName}, nil
}

// portName returns the name of the controller Service's first port, which
// the proxy path needs.
func (c *controllerClient) portName(ctx context.Context) (string, error) {
	svc, err := c.core.Services(c.namespace).Get(ctx, c.name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("cannot get sealed secret service: %v.\nPlease, use the flag --controller-name and --controller-namespace to set up the name and namespace of the sealed secrets controller", err)
	}
	if len(svc.Spec.Ports) == 0 {
		return "", fmt.Errorf("sealed secret service %s/%s has no ports", c.namespace, c.name)
	}
	return svc.Spec.Ports[0].Name, nil
}

func (c *controllerClient) fetchCert(ctx context.Context) ([]byte, error) {
	return c.get(ctx, "/v1/cert.pem", "fetch certificate")
}

// get fetches path from the controller, up to maxCertSize bytes. A failed
// request is reported as "cannot <what>: <client-go error>", wrapped.
func (c *controllerClient) get(ctx context.Context, path, what string) ([]byte, error) {
	port, err := c.portName(ctx)
	if err != nil {
		return nil, err
	}
	rc, err := c.core.Services(c.namespace).ProxyGet("http", c.name, port, path, nil).Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot %s: %w", what, err)
	}
	defer rc.Close()
	return readLimited(rc, "response to GET "+path)
}

// post sends body to path on the controller and returns the response body.
func (c *controllerClient) post(ctx context.Context, path string, body []byte) ([]byte, error) {
	port, err := c.portName(ctx)
	if err != nil {
		return nil, err
	}
	return c.postToPort(ctx, port, path, body)
}

// postToPort is post to a port already looked up, for callers that post
// many times and would otherwise get the Service before each request.
func (c *controllerClient) postToPort(ctx context.Context, port, path string, body []byte) ([]byte, error) {
	res := c.core.RESTClient().Post().
		Namespace(c.namespace).
		Resource("services").
		SubResource("proxy").
		Name(utilnet.JoinSchemeNamePort("http", c.name, port)).
		Suffix(path).
		Body(body).
		Do(ctx)
	return res.Raw()
}

func isConflict(err error) bool {
	var se *apierrors.StatusError
	return errors.As(err, &se) && se.Status().Code == http.StatusConflict
}

// validateOnline asks the controller whether it can unseal each input.
func (o *options) validateOnline(ctx context.Context, in io.Reader) error {
	c, err := o.controller()
	if err != nil {
		return err
	}
	sealed, err := manifest.DecodeSealedSecrets(in)
	if err != nil {
		return fmt.Errorf("unable to decrypt sealed secret: %w", err)
	}
	for _, ss := range sealed {
		body, err := json.Marshal(ss)
		if err != nil {
			return fmt.Errorf("error while marshalling sealed secret: %w", err)
		}
		if _, err := c.post(ctx, "/v1/verify", body); err != nil {
			if isConflict(err) {
				return fmt.Errorf("unable to decrypt sealed secret: %v", ss.GetName())
			}
			return fmt.Errorf("cannot validate sealed secret: %v", err)
		}
	}
	return nil
}

// reEncryptOnline asks the controller to re-seal each input with its
// newest key.
func (o *options) reEncryptOnline(ctx context.Context, in io.Reader, out io.Writer, format manifest.Format) error {
	c, err := o.controller()
	if err != nil {
		return err
	}
	sealed, err := manifest.DecodeSealedSecrets(in)
	if err != nil {
		return err
	}
	for _, ss := range sealed {
		body, err := json.Marshal(ss)
		if err != nil {
			return err
		}
		resp, err := c.post(ctx, "/v1/rotate", body)
		if err != nil {
			if isConflict(err) {
				return errors.New("unable to rotate secret")
			}
			return fmt.Errorf("cannot re-encrypt secret: %v", err)
		}
		rotated := &ssv1alpha1.SealedSecret{}
		if err := json.Unmarshal(resp, rotated); err != nil {
			return fmt.Errorf("controller answered with an invalid SealedSecret: %w", manifest.Scrub(err))
		}
		rotated.CreationTimestamp = metav1.Time{}
		rotated.DeletionTimestamp = nil
		rotated.Generation = 0
		if err := manifest.Encode(out, format, rotated); err != nil {
			return err
		}
	}
	return nil
}
