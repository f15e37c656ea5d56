package cli

import "time"

// SetKeysPollInterval makes `keys rotate --wait` poll every d until the
// returned function restores the default.
func SetKeysPollInterval(d time.Duration) (restore func()) {
	old := keysPollInterval
	keysPollInterval = d
	return func() { keysPollInterval = old }
}

// SetProgressInterval makes reencrypt report progress every d until the
// returned function restores the default.
func SetProgressInterval(d time.Duration) (restore func()) {
	old := progressInterval
	progressInterval = d
	return func() { progressInterval = old }
}
