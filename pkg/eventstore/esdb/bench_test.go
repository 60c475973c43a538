package esdb_test

// The benchmarks run the shared helpers of eventstoretest, so the figures
// compare with the other adapters', against the esdbtest double over
// loopback gRPC: they measure the adapter and the client, not EventStoreDB.
//
//	go test -run '^$' -bench . ./pkg/eventstore/esdb/

import (
	"testing"

	"github.com/dropsync/dropsync/pkg/eventstore/eventstoretest"
)

const benchSize = 512 // bytes of payload per event

func BenchmarkAppend(b *testing.B) {
	eventstoretest.BenchAppend(b, newStore(b), 1000, benchSize)
}

func BenchmarkAppendConcurrent(b *testing.B) {
	eventstoretest.BenchAppendConcurrent(b, newStore(b), 64, 4, benchSize)
}

func BenchmarkReadAll(b *testing.B) {
	s := newStore(b)
	prefix := eventstoretest.Prefix()
	n := eventstoretest.Populate(b, s, prefix, 10, 1000, 100, benchSize)
	eventstoretest.BenchReadAll(b, s, prefix, n)
}

func BenchmarkReadStream(b *testing.B) {
	s := newStore(b)
	prefix := eventstoretest.Prefix()
	eventstoretest.Populate(b, s, prefix, 100, 50, 50, benchSize)
	eventstoretest.BenchReadStream(b, s, prefix, 100, 50)
}
