package vault

import (
	"fmt"
	"strings"

	esv1 "github.com/sealsync/sealsync/api/externalsecrets/v1"
)

// kvLayout turns remote keys into Vault API paths for one store, with
// ESO's rules (see the package doc).
type kvLayout struct {
	// mount is the store's path; empty when keys name their mount.
	mount string
	v2    bool
}

func newKVLayout(mount string, version esv1.VaultKVStoreVersion) kvLayout {
	return kvLayout{mount: mount, v2: version == esv1.VaultKVStoreV2}
}

// split returns the mount and the path inside it of key. A key that
// repeats the store's mount (and, on KV v2, the data/ segment) is read
// inside the mount, as ESO does: with path "secret", keys "foo",
// "secret/foo" and "secret/data/foo" all name secret/data/foo.
func (l kvLayout) split(key string) (mount, rel string, err error) {
	// ESO's docs use keys such as "/dev/config"; Vault would answer the
	// doubled slash with a redirect.
	key = strings.Trim(key, "/")
	if key == "" {
		return "", "", fmt.Errorf("empty key")
	}
	if l.mount != "" {
		rel = key
		if r, ok := strings.CutPrefix(key, l.mount+"/"); ok {
			rel = r
			if l.v2 {
				rel = strings.TrimPrefix(rel, "data/")
			}
		}
		return l.mount, rel, nil
	}
	if l.v2 {
		// A key already holding the data/ segment names the mount
		// before it, which may span several segments.
		if i := strings.Index(key, "/data/"); i > 0 {
			return key[:i], key[i+len("/data/"):], nil
		}
	}
	mount, rel, ok := strings.Cut(key, "/")
	if !ok || rel == "" {
		return "", "", fmt.Errorf("key %q names no secret inside a mount: with no path in the store, keys start with the mount, as in secret/%s", key, key)
	}
	return mount, rel, nil
}

// dataPath is the API path that reads key.
func (l kvLayout) dataPath(key string) (string, error) {
	mount, rel, err := l.split(key)
	if err != nil {
		return "", err
	}
	if l.v2 {
		return mount + "/data/" + rel, nil
	}
	return mount + "/" + rel, nil
}

// metadataPath is the KV v2 API path of key's metadata.
func (l kvLayout) metadataPath(key string) (string, error) {
	if !l.v2 {
		return "", fmt.Errorf("KV v1 keeps no metadata: metadataPolicy Fetch and find by tags need KV v2")
	}
	mount, rel, err := l.split(key)
	if err != nil {
		return "", err
	}
	return mount + "/metadata/" + rel, nil
}

// listRoot returns the API path that lists dir (the mount's root when
// empty) and the prefix that turns a listed entry into a key readable
// with dataPath.
func (l kvLayout) listRoot(dir string) (listPath, keyPrefix string, err error) {
	dir = strings.Trim(dir, "/")
	var mount, rel string
	switch {
	case l.mount != "" && dir == "":
		mount = l.mount
	case l.mount != "":
		if mount, rel, err = l.split(dir); err != nil {
			return "", "", err
		}
	default:
		if dir == "" {
			return "", "", fmt.Errorf("find needs a path starting with the mount when the store sets no path")
		}
		if strings.Contains(dir, "/") {
			if mount, rel, err = l.split(dir); err != nil {
				return "", "", err
			}
		} else {
			mount = dir
		}
	}
	listPath = mount + "/"
	if l.v2 {
		listPath = mount + "/metadata/"
	}
	if rel != "" {
		listPath += rel + "/"
		keyPrefix = rel + "/"
	}
	if l.mount == "" {
		// Keys of a store without a path name their mount.
		keyPrefix = mount + "/" + keyPrefix
	}
	return listPath, keyPrefix, nil
}
