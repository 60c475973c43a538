package jetstream_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
)

func TestScratchBatchCost(t *testing.T) {
	_, nc := natstest.Connect(t)
	js, _ := natsjs.New(nc)
	ctx := context.Background()
	for _, st := range []natsjs.StorageType{natsjs.FileStorage, natsjs.MemoryStorage} {
		name := fmt.Sprintf("S%d", st)
		_, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Storage: st, AllowAtomicPublish: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 2, 10} {
			const iters = 200
			start := time.Now()
			for i := 0; i < iters; i++ {
				id := nuid.Next()
				for j := 1; j <= n; j++ {
					m := &nats.Msg{Subject: fmt.Sprintf("%s.%d", name, i), Data: make([]byte, 512), Header: nats.Header{}}
					if n > 1 {
						m.Header.Set("Nats-Batch-Id", id)
						m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(j))
					}
					if j < n {
						nc.PublishMsg(m)
						continue
					}
					if n > 1 {
						m.Header.Set("Nats-Batch-Commit", "1")
					}
					if _, err := js.PublishMsg(ctx, m); err != nil {
						t.Fatal(err)
					}
				}
			}
			d := time.Since(start) / iters
			t.Logf("%v batch %d: %v per batch, %v per msg", st, n, d, d/time.Duration(n))
		}
	}
}
