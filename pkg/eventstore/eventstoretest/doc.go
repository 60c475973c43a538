// Package eventstoretest is the conformance suite of the event store port:
// one set of tests every adapter of [eventstore.Store] must pass.
//
// An adapter's test calls [Run] with a constructor:
//
//	func TestConformance(t *testing.T) {
//		eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
//			return newStoreForTest(t)
//		})
//	}
//
// The suite does not assume an empty store: every test writes to streams
// whose names carry a random prefix, and reads across streams filtered on
// it, so adapters backed by a shared server (EventStoreDB) can run it too.
// It assumes nothing of [eventstore.Position] values beyond their order.
package eventstoretest
