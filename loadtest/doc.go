// Package loadtest is the library behind `rocketgo loadtest`: it drives
// rocketgo's producer and push consumer against a cluster (or an embedded
// server it starts itself) and reports throughput and latency the way
// RocketMQ's own benchmark tools and the OpenMessaging Benchmark do.
//
// While running it prints, every report interval, RocketMQ's benchmark
// lines verbatim ("Send TPS", "Max RT(ms)", "Average RT(ms)", "Send Failed",
// "Response Failed"; "Consume TPS" with born-to-consume and store-to-consume
// latency) followed by a percentile line; at the end a "[Complete]" summary
// and a percentile table. Result marshals to JSON in the shape of the
// OpenMessaging Benchmark's TestResult so existing tooling can read it.
//
// Latencies go into fixed-size log-linear histograms (about 1.6 % precision),
// so memory stays flat however long a run lasts. Every message body starts
// with a 24-byte stamp (run id, send time in nanoseconds, sequence number):
// consumers skip messages from other runs, count redeliveries apart and
// measure end-to-end latency precisely.
package loadtest
