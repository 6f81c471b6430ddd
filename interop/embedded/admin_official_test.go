//go:build !race

package embedded_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rocketgo/rocketgo/admin"
)

// TestOfficialSentMessagesFoundByAdminQueries: messages the official Go
// client sends with keys are found by admin's key, unique-key and offset-id
// queries (what `rocketgo admin queryMsgByKey` runs).
func TestOfficialSentMessagesFoundByAdminQueries(t *testing.T) {
	srv := startServer(t)
	p := officialProducer(t, srv, "AdminOfficialPG")
	const topic = "AdminOfficialT"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var results []*primitive.SendResult
	for i := range 6 {
		m := primitive.NewMessage(topic, []byte(fmt.Sprint("body-", i)))
		m.WithKeys([]string{fmt.Sprint("order-", i%2)})
		r, err := p.SendSync(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	adm, err := admin.Dial(srv.NamesrvAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	var found []string
	deadline := time.Now().Add(10 * time.Second) // the index is built behind the log
	for len(found) < 3 && time.Now().Before(deadline) {
		msgs, _ := adm.MessagesByKey(ctx, topic, "order-1", admin.KeyQuery{})
		found = found[:0]
		for _, m := range msgs {
			found = append(found, string(m.Body))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fmt.Sprint(found) != "[body-1 body-3 body-5]" {
		t.Fatalf("by key order-1: %v", found)
	}
	u, err := adm.MessagesByUniqueKey(ctx, topic, results[2].MsgID)
	if err != nil || len(u) != 1 || string(u[0].Body) != "body-2" {
		t.Fatalf("by unique key %s: %v, %v", results[2].MsgID, u, err)
	}
	m, err := adm.MessageByID(ctx, results[4].OffsetMsgID)
	if err != nil || string(m.Body) != "body-4" {
		t.Fatalf("by offset id %s: %v, %v", results[4].OffsetMsgID, m, err)
	}
}
