package restart

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sealsync/sealsync/internal/syncer"
)

// KeySecretName is the Secret, in the controller's namespace, that holds
// the key of the digests this package writes on workloads.
const KeySecretName = "sealsync-restart-key"

// keySecretDataKey is the data key of the key in KeySecretName.
const keySecretDataKey = "key"

// keyBytes is the size of the digest key.
const keyBytes = 32

// digestKey keys the digests of Secret data that workloads carry.
//
// The digests sit in a workload's annotations, which many more people may
// read than may read Secrets (Kubernetes' "view" role reads Deployments,
// never Secrets). A plain hash of a short password there could be
// guessed offline; an HMAC under a key only the controller holds cannot.
// The key lives in a Secret of the controller's namespace, made on first
// use. If it is lost, a new one is made; records under the old key are
// then taken as new (recorded again, nothing restarted), since no digest
// under another key can be compared.
type digestKey struct {
	reader client.Reader
	writer client.Writer
	at     types.NamespacedName

	mu  sync.Mutex
	key []byte
	id  string
}

// load returns the key and its id, reading or making the key Secret the
// first time.
func (k *digestKey) load(ctx context.Context) ([]byte, string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, k.id, nil
	}
	s := &corev1.Secret{}
	err := k.reader.Get(ctx, k.at, s)
	if apierrors.IsNotFound(err) {
		key := make([]byte, keyBytes)
		_, _ = rand.Read(key)
		s = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: k.at.Name, Namespace: k.at.Namespace},
			Type:       corev1.SecretTypeOpaque,
			Immutable:  ptr.To(true),
			Data:       map[string][]byte{keySecretDataKey: key},
		}
		err = k.writer.Create(ctx, s)
		if apierrors.IsAlreadyExists(err) {
			// Another leader's, an instant ago.
			err = k.reader.Get(ctx, k.at, s)
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("restart key Secret %s: %w", k.at, syncer.RedactWriteError(err))
	}
	key := s.Data[keySecretDataKey]
	if len(key) < keyBytes {
		return nil, "", fmt.Errorf("restart key Secret %s: %w", k.at, errShortKey)
	}
	sum := sha256.Sum256(key)
	k.key, k.id = key, hex.EncodeToString(sum[:4])
	return k.key, k.id, nil
}

var errShortKey = errors.New("the key is shorter than 32 bytes: delete the Secret to have a new one made")

// digest is the keyed digest of a Secret's data.
func digest(key []byte, data map[string][]byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(syncer.DataHash(data)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
