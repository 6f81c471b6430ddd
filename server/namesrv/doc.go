// Package namesrv implements a RocketMQ-compatible name server.
//
// A name server is the directory of a RocketMQ deployment: brokers register
// their topic configurations with it (REGISTER_BROKER) and keep registering
// every 30 s; producers, consumers and admin tools ask it which brokers serve
// a topic (GET_ROUTEINFO_BY_TOPIC). It holds no durable state — every table is
// rebuilt from broker registrations after a restart, which is why brokers
// register with every name server on a fixed cadence.
//
// The package is split by concept:
//
//   - route_table.go: the route tables and the rules that mutate them
//     (register, unregister, liveness expiry, connection loss, deletes);
//   - route_json.go: hand-rolled encoders for the bodies clients parse;
//   - register_body.go: decoding of both REGISTER_BROKER body forms;
//   - kvconfig.go: the namespaced key/value store (ORDER_TOPIC_CONFIG, ...);
//   - server.go / processors.go: the remoting server and one processor per
//     request code.
package namesrv
