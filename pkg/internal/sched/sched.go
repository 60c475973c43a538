// Package sched runs jobs at their due time, one at a time, in due order
// (ties in the order they were pushed): the webhook delivery queues of the
// platform simulators, whose retries come back later.
package sched

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Queue holds jobs until they are due and runs them one at a time.
type Queue[T any] struct {
	run  func(context.Context, T)
	mu   sync.Mutex
	jobs []job[T]
	seq  int
	busy bool
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type job[T any] struct {
	v   T
	due time.Time
	seq int
}

// New starts a queue that calls run for each job when it is due. run's
// context ends when the queue is closed; run may Push (a retry).
func New[T any](run func(context.Context, T)) *Queue[T] {
	q := &Queue[T]{run: run, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go q.loop()
	return q
}

// Push queues v to run at due.
func (q *Queue[T]) Push(v T, due time.Time) {
	q.mu.Lock()
	q.seq++
	q.jobs = append(q.jobs, job[T]{v: v, due: due, seq: q.seq})
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Idle reports whether no job is queued or running.
func (q *Queue[T]) Idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.jobs) == 0 && !q.busy
}

// Close stops the queue, ending a running job's context, and waits for it.
// Jobs not yet run are dropped.
func (q *Queue[T]) Close() {
	q.once.Do(func() {
		close(q.stop)
		<-q.done
	})
}

func (q *Queue[T]) loop() {
	defer close(q.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, wait, ok := q.take()
		if ok {
			q.runOne(next)
			continue
		}
		timer.Reset(wait)
		select {
		case <-q.stop:
			return
		case <-q.wake:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
	}
}

// take removes the first due job, or says how long until one is.
func (q *Queue[T]) take() (T, time.Duration, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var zero T
	if len(q.jobs) == 0 {
		return zero, time.Hour, false
	}
	slices.SortFunc(q.jobs, func(a, b job[T]) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	if w := time.Until(q.jobs[0].due); w > 0 {
		return zero, w, false
	}
	v := q.jobs[0].v
	q.jobs = q.jobs[1:]
	q.busy = true
	return v, 0, true
}

func (q *Queue[T]) runOne(v T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-q.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	q.run(ctx, v)
	cancel()
	q.mu.Lock()
	q.busy = false
	q.mu.Unlock()
}
