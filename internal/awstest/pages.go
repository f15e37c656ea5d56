package awstest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"sort"
)

// maxToken bounds a NextToken parsed, in bytes.
const maxToken = 4 << 10

// pageToken is what a NextToken holds: the sort key of the last item of
// the previous page, and a digest of the request's other parameters, so a
// token given with different filters is refused as AWS refuses it.
type pageToken struct {
	After string `json:"a"`
	Query string `json:"q"`
}

func encodeToken(after, query string) *string {
	b, _ := json.Marshal(pageToken{After: after, Query: query})
	t := base64.RawURLEncoding.EncodeToString(b)
	return &t
}

// parseToken returns where the page after tok starts. ok is false for a
// token this server did not make for this query.
func parseToken(tok, query string) (after string, ok bool) {
	if len(tok) > maxToken {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", false
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || t.Query != query || t.After == "" {
		return "", false
	}
	return t.After, true
}

// queryDigest digests the request parameters that select items.
func queryDigest(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// page sorts items by key (descending when desc) and returns at most max
// of those after the key after ("" for the first page), and the token of
// the next page, nil on the last. Keying pages by the last item rather
// than by an offset keeps a listing consistent while items come and go.
func page[T any](items []T, key func(T) string, after string, max int, desc bool, query string) ([]T, *string) {
	sort.Slice(items, func(i, j int) bool {
		if desc {
			return key(items[i]) > key(items[j])
		}
		return key(items[i]) < key(items[j])
	})
	start := 0
	if after != "" {
		start = sort.Search(len(items), func(i int) bool {
			if desc {
				return key(items[i]) < after
			}
			return key(items[i]) > after
		})
	}
	items = items[start:]
	if len(items) <= max {
		return items, nil
	}
	return items[:max], encodeToken(key(items[max-1]), query)
}
