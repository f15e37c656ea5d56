package externalsecrets

// SetMaxFinalizerWrites sets how many writes one pass of a
// ClusterExternalSecret's cleanup makes, and returns what restores it.
func SetMaxFinalizerWrites(n int) (restore func()) {
	old := maxFinalizerWrites
	maxFinalizerWrites = n
	return func() { maxFinalizerWrites = old }
}
