package esdata

import "time"

// SetReadsClock makes d read the time from now.
func SetReadsClock(d *Reads, now func() time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.now = now
}

// ReadsHeld returns how many results d holds, calls in flight included.
func ReadsHeld(d *Reads) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.entries)
}

// ReadsRemembered returns how many reads d remembers for identity, to
// read ahead.
func ReadsRemembered(d *Reads, identity string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m := d.memory[identity]; m != nil {
		return len(m.keys)
	}
	return 0
}
