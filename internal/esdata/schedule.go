package esdata

import (
	"hash/fnv"
	"time"
)

// NextRefresh returns when an object refreshed at last, with the given
// interval, should refresh next.
//
// Refreshes are aligned to slots: phase + k·interval, where phase is
// derived from key. Everything sharing a key (the backend identity of a
// store: same server, same credentials) refreshes in the same slot, so
// the reads of that slot are deduplicated across objects, while different
// keys land on different phases, which spreads load over the interval
// instead of the refresh storm ESO has after a restart (ESO #4231). The
// first slot after last is returned, so consecutive refreshes are never
// more than one interval apart. spread adds up to that much of a
// key-independent offset per object (from objectKey) to avoid a hard
// spike inside the slot; the refreshes of a slot share its reads however
// far apart they fall (see [NotBefore]).
func NextRefresh(last time.Time, interval time.Duration, key, objectKey string, spread time.Duration) time.Time {
	if interval <= 0 {
		return time.Time{}
	}
	phase := time.Duration(hash64(key) % uint64(interval))
	// Slots are anchored at the Unix epoch so every replica and restart
	// computes the same ones.
	base := last.UnixNano() - int64(phase)
	k := base/int64(interval) + 1
	next := time.Unix(0, k*int64(interval)+int64(phase))
	if spread > 0 {
		next = next.Add(time.Duration(hash64(objectKey) % uint64(spread)))
	}
	return next
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
