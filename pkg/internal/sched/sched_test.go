package sched_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/internal/sched"
)

func TestRunsInDueOrderOneAtATime(t *testing.T) {
	var mu sync.Mutex
	var got []string
	running := 0
	var q *sched.Queue[string]
	q = sched.New(func(_ context.Context, v string) {
		mu.Lock()
		running++
		if running > 1 {
			t.Error("two jobs at once")
		}
		got = append(got, v)
		mu.Unlock()
		if v == "b" { // a retry, due later than everything else
			q.Push("b-again", time.Now().Add(30*time.Millisecond))
		}
		mu.Lock()
		running--
		mu.Unlock()
	})
	defer q.Close()
	now := time.Now()
	q.Push("c", now.Add(20*time.Millisecond))
	q.Push("a", now)
	q.Push("b", now.Add(10*time.Millisecond))
	q.Push("a2", now) // same due time as a: pushed later, runs later
	deadline := time.Now().Add(5 * time.Second)
	for !q.Idle() || len(snapshot(&mu, &got)) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("not idle; ran %v", snapshot(&mu, &got))
		}
		time.Sleep(time.Millisecond)
	}
	if want := []string{"a", "a2", "b", "c", "b-again"}; !slices.Equal(snapshot(&mu, &got), want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
}

func TestCloseEndsTheRunningJob(t *testing.T) {
	started := make(chan struct{})
	ended := make(chan error, 1)
	q := sched.New(func(ctx context.Context, _ int) {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
	})
	q.Push(1, time.Now())
	q.Push(2, time.Now().Add(time.Hour))
	<-started
	q.Close()
	if err := <-ended; err == nil {
		t.Fatal("the running job's context did not end")
	}
}

func snapshot(mu *sync.Mutex, s *[]string) []string {
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(*s)
}
