package service_test

import (
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// orderEvents drops the store-level StoreConnectionChanged events (a
// connector reports each store's health at its first API answer) from
// envs, leaving the events about orders.
func orderEvents(envs []*eventsv1.Envelope) []*eventsv1.Envelope {
	var out []*eventsv1.Envelope
	for _, e := range envs {
		if e.GetStoreConnectionChanged() == nil {
			out = append(out, e)
		}
	}
	return out
}
