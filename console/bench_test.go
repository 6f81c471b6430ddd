package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/admin"
)

// BenchmarkPages renders every page against a fake cluster of 1,000 topics
// and 200 groups (issue target: < 300 ms per page).
//
//	go test -run '^$' -bench Pages ./console
func BenchmarkPages(b *testing.B) {
	f := newFake()
	now := time.Now().UnixMilli()
	for i := 0; i < 1000; i++ {
		topic := fmt.Sprintf("Topic-%04d", i)
		for q := 0; q < 8; q++ {
			f.addMessage(topic, q, now-int64(1000*(8-q)), fmt.Sprintf(`{"n":%d}`, i))
		}
	}
	for i := 0; i < 200; i++ {
		g := fmt.Sprintf("Group-%03d", i)
		p := admin.Progress{Group: g}
		for q := 0; q < 64; q++ {
			p.Queues = append(p.Queues, admin.QueueProgress{Topic: fmt.Sprintf("Topic-%04d", q/8), Broker: "b0", QueueID: int32(q % 8), BrokerOffset: 100, ConsumerOffset: 40, Lag: 60})
			p.TotalLag += 60
		}
		f.groups[g] = p
	}
	c, err := New(f, Config{})
	if err != nil {
		b.Fatal(err)
	}
	m := f.topics["Topic-0500"][3][0]
	for _, path := range []string{"/cluster", "/topics", "/topics?system=1", "/topics/Topic-0500", "/groups", "/groups/Group-100",
		"/messages?mode=time&topic=Topic-0500", "/message?id=" + m.OffsetMsgID(), "/dlq", "/producers?group=PG&topic=Topic-0001"} {
		b.Run(path, func(b *testing.B) {
			var worst time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				rec := httptest.NewRecorder()
				c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", path, rec.Code)
				}
				worst = max(worst, time.Since(start))
			}
			b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
		})
	}
}
