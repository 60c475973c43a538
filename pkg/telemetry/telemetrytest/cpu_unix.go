//go:build unix

package telemetrytest

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time the process has used so far (user and system),
// a steadier measure than wall time on a shared machine; 0 where unknown.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
