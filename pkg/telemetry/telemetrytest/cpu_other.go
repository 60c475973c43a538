//go:build !unix

package telemetrytest

import "time"

// CPUTime is the CPU time the process has used so far; 0 where unknown.
func CPUTime() time.Duration { return 0 }
