package broker

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

// popRaw pops up to 32 messages with a raw POP_MESSAGE and gives each its
// receipt handle, as the SDK does.
func popRaw(t *testing.T, rc *netclient.Client, addr, group, topic string, invisible time.Duration) []*message.MessageExt {
	t.Helper()
	h := &remoting.PopMessageRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: -1, MaxMsgNums: 32,
		InvisibleTime: invisible.Milliseconds(), BornTime: time.Now().UnixMilli(), InitMode: remoting.PopInitModeMin}
	resp := invoke(t, rc, addr, remoting.NewWideRequest(remoting.PopMessage, h, nil))
	if resp.Code != remoting.Success {
		return nil
	}
	var rh remoting.PopMessageResponseHeader
	if err := resp.DecodeHeader(&rh); err != nil {
		t.Fatal(err)
	}
	msgs, err := message.DecodeMessages(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	starts, err := remoting.ParsePopOffsetInfo(rh.StartOffsetInfo)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if _, ok := m.Property(message.PropertyPopCK); ok {
			continue
		}
		k := remoting.PopQueueKey{RetryMark: remoting.PopRetryMark(m.Topic), QueueID: m.QueueID}
		ei := remoting.ExtraInfo{CkQueueOffset: starts[k][0], PopTime: rh.PopTime, InvisibleTime: rh.InvisibleTime,
			ReviveQid: rh.ReviveQid, RetryMark: k.RetryMark, BrokerName: "b", QueueID: m.QueueID, QueueOffset: m.QueueOffset}
		m.SetProperty(message.PropertyPopCK, ei.String())
	}
	return msgs
}

func ackRaw(t *testing.T, rc *netclient.Client, addr, group string, m *message.MessageExt) {
	t.Helper()
	v, _ := m.Property(message.PropertyPopCK)
	ei, err := remoting.ParseExtraInfo(v)
	if err != nil {
		t.Fatal(err)
	}
	topic, _ := remoting.PopRealTopic(m.Topic, group, ei.RetryMark)
	h := &remoting.AckMessageRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: ei.QueueID, ExtraInfo: v, Offset: ei.QueueOffset}
	if resp := invoke(t, rc, addr, remoting.NewWideRequest(remoting.AckMessage, h, nil)); resp.Code != remoting.Success {
		t.Fatalf("ack %s: %d %s", m.Body, resp.Code, resp.Remark)
	}
}

// The POP bookkeeping of a SYNC_FLUSH broker survives SIGKILL: after the
// restart acknowledged messages stay acknowledged, unacknowledged ones
// come back once their invisible time passed (reconsume count 1), and an
// orderly group's queue stays blocked until then and redelivers in place.
func TestPopStateSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	dir := t.TempDir()
	child := startChild(t, dir)
	rc := netclient.New()
	defer rc.Close()
	const group, fifoGroup = "CG-POP", "CG-POP-FIFO"
	resp := invoke(t, rc, child.addr, remoting.NewRequest(remoting.UpdateAndCreateSubscriptionGroup, nil,
		[]byte(`{"groupName":"`+fifoGroup+`","consumeEnable":true,"retryQueueNums":1,"retryMaxTimes":16,"consumeMessageOrderly":true}`)))
	if resp.Code != remoting.Success {
		t.Fatalf("create group: %s", resp.Remark)
	}
	for i := range 10 {
		send(t, rc, child.addr, "CrashPop", int32(i%2), "", []byte(fmt.Sprintf("n-%d", i)))
	}
	for i := range 4 {
		send(t, rc, child.addr, "CrashPopFifo", 0, "", []byte(fmt.Sprintf("f-%d", i)))
	}
	const invisible = 3 * time.Second
	var got, fifo []*message.MessageExt
	popped := time.Now() // no later than the broker's pop times
	deadline := time.Now().Add(10 * time.Second)
	for (len(got) < 10 || len(fifo) < 4) && time.Now().Before(deadline) {
		got = append(got, popRaw(t, rc, child.addr, group, "CrashPop", invisible)...)
		fifo = append(fifo, popRaw(t, rc, child.addr, fifoGroup, "CrashPopFifo", invisible)...)
	}
	if len(got) != 10 || len(fifo) != 4 {
		t.Fatalf("popped %d and %d messages", len(got), len(fifo))
	}
	acked := map[string]bool{}
	for i, m := range got {
		if i%2 == 0 {
			ackRaw(t, rc, child.addr, group, m)
			acked[string(m.Body)] = true
		}
	}
	for _, m := range fifo {
		if string(m.Body) != "f-1" {
			ackRaw(t, rc, child.addr, fifoGroup, m)
		}
	}
	child.kill(t)
	child = startChild(t, dir)

	back := map[string]int32{}
	var fifoBack []string
	deadline = time.Now().Add(20 * time.Second)
	for (len(back) < 5 || len(fifoBack) < 1) && time.Now().Before(deadline) {
		early := time.Since(popped) < invisible
		for _, m := range popRaw(t, rc, child.addr, group, "CrashPop", time.Minute) {
			if early {
				t.Errorf("%s handed out %v after the pop, inside its invisible time", m.Body, time.Since(popped))
			}
			back[string(m.Body)] = m.ReconsumeTimes
		}
		for _, m := range popRaw(t, rc, child.addr, fifoGroup, "CrashPopFifo", time.Minute) {
			if early {
				t.Errorf("blocked FIFO queue handed out %s after the restart", m.Body)
			}
			fifoBack = append(fifoBack, fmt.Sprintf("%s/%d", m.Body, m.ReconsumeTimes))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for body, n := range back {
		if acked[body] {
			t.Errorf("acknowledged %s came back after SIGKILL", body)
		}
		if n != 1 {
			t.Errorf("%s came back with reconsume count %d", body, n)
		}
	}
	var missing []string
	for _, m := range got {
		if _, ok := back[string(m.Body)]; !ok && !acked[string(m.Body)] {
			missing = append(missing, string(m.Body))
		}
	}
	if len(missing) > 0 {
		t.Errorf("unacknowledged messages lost across SIGKILL: %v", missing)
	}
	if !slices.Equal(fifoBack, []string{"f-1/1"}) {
		t.Errorf("FIFO queue after SIGKILL handed out %v, want [f-1/1]", fifoBack)
	}
	child.kill(t)
}
