package template

import (
	"runtime"
	"syscall"
	"time"
)

// threadCPU runs f on a thread of its own and returns the CPU time that
// thread spent, which, unlike time on the clock, does not grow when the
// machine is busy.
func threadCPU(f func()) (time.Duration, bool) {
	type result struct {
		cpu time.Duration
		ok  bool
	}
	done := make(chan result)
	go func() {
		// Never unlocked: the thread ends with the goroutine.
		runtime.LockOSThread()
		before, err1 := threadRusage()
		f()
		after, err2 := threadRusage()
		done <- result{after - before, err1 == nil && err2 == nil}
	}()
	r := <-done
	return r.cpu, r.ok
}

func threadRusage() (time.Duration, error) {
	const rusageThread = 1 // RUSAGE_THREAD, which package syscall does not name
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
