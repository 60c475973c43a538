// Package harness is dropsync's chaos suite: every service, nats-server and
// the four platform simulators as separate OS processes on 127.0.0.1, a
// bounded workload of store orders driven through the simulators' control
// APIs, random SIGKILLs of services and of nats-server, platform faults and
// duplicated webhooks; then it lets the system settle and checks what the
// platforms received and what the orders service says against the
// invariants (see Report).
//
// RunRecovery is a measurement rather than a test (`make chaos-recovery`,
// never in `make test`): a steady workload with no faults and no random
// kills, one SIGKILL of nats-server for RecoveryPlan.Outage, then the
// time until the backlog of the outage is drained and the tracking ->
// store latency of the parcels shipped during the outage and recovery,
// next to those of the steady state before it (RecoveryReport).
//
// Settings changed from the services' defaults, and why (everything else
// is the default a deployment gets):
//
//   - AliExpress: DROPSYNC_ALIEXPRESS_POLL_INTERVAL=1s, _MIN_INTERVAL=5s and
//     _DAILY_BUDGET=2000000. The workload compresses days of supplier
//     activity into minutes: with the defaults (a round every 10 s, an
//     order polled again after 10 s at the soonest, 5,000 calls a day
//     spread over the day) the run would wait on the budget's pace rather
//     than test the system. The schedule itself is the default one.
//   - Shopify, WooCommerce, Wix: _RECONCILE_INTERVAL=20s (defaults 5m, 1m,
//     5m). Reconciliation is what finds a webhook lost while a connector
//     was down; the run lasts minutes, so it must come round within them.
//   - gRPC: what a deployment must set, not a tuning. The run issues its
//     own CA and certificates (devpki, under <dir>/grpc): every service
//     serves and calls over mTLS with DROPSYNC_GRPC_TLS_* and
//     _CERT_ROLES, and the harness calls as the operator certificate.
//   - The simulators' webhook retry schedules are compressed the same way:
//     Shopify's 8 retries over 4 hours become 8 over about 4 minutes, Wix's
//     12 over two days are scaled by 0.005 (the first after 0.3 s, the
//     fourth after 3 s).
//
// Nothing else is tuned: ack waits, max deliveries, backoffs, timeouts and
// rate limits are the defaults, and nats-server runs with
// sync_interval: always, as the README asks of an external server.
package harness
