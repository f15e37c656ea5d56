package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// Bitnami's controller reads only the in-cluster configuration: the API
// server from KUBERNETES_SERVICE_HOST and _PORT, and a service account's
// token and CA from /var/run/secrets/kubernetes.io/serviceaccount. The
// bench gives it that folder inside a private mount namespace (unshare
// -m, which needs root): a tmpfs over /run (/var/run links to it on
// Debian) holding only that folder. The host's /run is never touched.

const (
	// bitnamiSA is the service account Bitnami's controller runs as,
	// bound to cluster-admin: RBAC is not what is measured.
	bitnamiSA = "sealed-secrets-controller"
	// saFolder is where a pod finds its service account.
	saFolder = "/run/secrets/kubernetes.io/serviceaccount"
)

// inClusterWrapper runs "$3..." with the service-account files of folder
// $2 mounted where a pod has them, provided the shell runs in a mount
// namespace other than $1 (the bench's own).
const inClusterWrapper = `#!/bin/sh
set -eu
host_ns=$1 sa=$2
shift 2
if [ "$(readlink /proc/self/ns/mnt)" = "$host_ns" ]; then
	echo "bench: not in a private mount namespace; refusing to mount over /run" >&2
	exit 1
fi
mount -t tmpfs -o mode=0755,size=1m sealsync-bench /run
mkdir -p ` + saFolder + `
cp "$sa/token" "$sa/ca.crt" "$sa/namespace" ` + saFolder + `/
exec "$@"
`

// inCluster prepares what running a controller as if in a pod takes.
type inCluster struct {
	wrapper, saDir, hostNS string
	host, port             string
}

// prepareInCluster creates the service account, gets it a token with the
// TokenRequest API, checks that the API server accepts it, and writes the
// service-account files and the wrapper script into dir.
func prepareInCluster(ctx context.Context, k *cluster, namespace, dir string) (*inCluster, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("running Bitnami's controller needs root, for a private mount namespace (unshare -m)")
	}
	hostNS, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return nil, err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: bitnamiSA, Namespace: namespace}}
	if err := k.client.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create service account: %w", err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "sealsync-bench-" + bitnamiSA},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: bitnamiSA, Namespace: namespace}},
	}
	if err := k.client.Create(ctx, crb); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create cluster role binding: %w", err)
	}
	tr, err := k.clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, bitnamiSA, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64((24 * time.Hour).Seconds()))},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("request a service account token: %w", err)
	}
	if err := checkToken(ctx, k, tr.Status.Token, namespace); err != nil {
		return nil, err
	}
	host, port, err := k.hostPort()
	if err != nil {
		return nil, err
	}
	ic := &inCluster{saDir: filepath.Join(dir, "serviceaccount"), wrapper: filepath.Join(dir, "in-cluster.sh"), hostNS: hostNS, host: host, port: port}
	if err := os.MkdirAll(ic.saDir, 0o700); err != nil {
		return nil, err
	}
	for name, content := range map[string][]byte{
		"token": []byte(tr.Status.Token), "ca.crt": k.config.CAData, "namespace": []byte(namespace),
	} {
		if err := os.WriteFile(filepath.Join(ic.saDir, name), content, 0o600); err != nil {
			return nil, err
		}
	}
	return ic, os.WriteFile(ic.wrapper, []byte(inClusterWrapper), 0o700)
}

// checkToken makes sure the API server authenticates the token as the
// service account and lets it list Secrets: a controller that cannot
// would only show up as a timeout.
func checkToken(ctx context.Context, k *cluster, token, namespace string) error {
	cfg := &rest.Config{Host: k.config.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: k.config.CAData}}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if _, err := cs.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return fmt.Errorf("the API server does not accept the service account token: %w", err)
	}
	return nil
}

// command returns the command line and environment that run binary with
// args as if in a pod in namespace.
func (ic *inCluster) command(binary string, args []string, namespace string) (path string, argv, env []string) {
	argv = append([]string{"--mount", "--propagation", "private", "/bin/sh", ic.wrapper, ic.hostNS, ic.saDir, binary}, args...)
	env = append(baseEnv(namespace), "KUBERNETES_SERVICE_HOST="+ic.host, "KUBERNETES_SERVICE_PORT="+ic.port)
	return "unshare", argv, env
}

// baseEnv is the whole environment of a controller process: nothing
// inherited, so that no KUBECONFIG or SEALED_SECRETS_* setting of the
// caller changes what is measured.
func baseEnv(namespace string) []string {
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent", "POD_NAMESPACE=" + namespace}
}
