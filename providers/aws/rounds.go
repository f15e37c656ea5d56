package aws

import (
	"context"
	"math/rand/v2"
	"time"
)

// batchRounds is how many more times a batch call that still fails for a
// transient reason after the SDK's own retries is tried.
const batchRounds = 3

// maxBatchBackoff caps the wait between rounds.
const maxBatchBackoff = 30 * time.Second

// defaultBatchBackoff waits about 1s, 2s, 4s… (half of it random, so the
// clients of many stores do not retry in step) before round n.
func defaultBatchBackoff(round int) time.Duration {
	d := min(time.Second<<min(round-1, 10), maxBatchBackoff)
	return d/2 + rand.N(d/2+1)
}

// rounds runs f, and runs it again after a backoff while it fails for a
// transient reason (throttling, 5xx, connection) after the SDK's retries,
// up to batchRounds more times or until ctx ends. A throttling storm then
// delays a batch of reads, but does not fail them while it lasts less than
// the SDK's attempts and these rounds together.
func (c *client) rounds(ctx context.Context, f func() error) error {
	for round := 1; ; round++ {
		err := f()
		if err == nil || !transient(err) || round > batchRounds {
			return err
		}
		t := time.NewTimer(c.batchBackoff(round))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
