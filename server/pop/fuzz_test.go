package pop_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
)

var fuzzCodes = []int32{remoting.PopMessage, remoting.AckMessage, remoting.ChangeMessageInvisibleTime, remoting.BatchAckMessage,
	remoting.PeekMessage, remoting.Notification, remoting.PollingInfo}

// FuzzPopRequests sends POP requests with arbitrary header fields and
// bodies: every one gets an answer, none a processor panic (SYSTEM_ERROR
// "processor panic"), and the broker keeps serving.
func FuzzPopRequests(f *testing.F) {
	const h = "consumerGroup=g\ntopic=FuzzPop\nqueueId=0\n"
	f.Add(uint8(0), h+"maxMsgNums=32\ninvisibleTime=60000\nbornTime=0\ninitMode=0\nexpType=TAG\nexp=*", []byte(nil))
	f.Add(uint8(0), h+"maxMsgNums=4\ninvisibleTime=1\nbornTime=0\ninitMode=1\norder=true\nexp=a || b", []byte(nil))
	f.Add(uint8(0), h+"maxMsgNums=-1\ninvisibleTime=9223372036854775807\nqueueId=-7", []byte(nil))
	f.Add(uint8(1), h+"extraInfo=0 1 60000 0 0 b 0 0\noffset=0", []byte(nil))
	f.Add(uint8(1), h+"extraInfo=0 1 60000 999 1 b 0 0\noffset=-9223372036854775808", []byte(nil))
	f.Add(uint8(2), h+"extraInfo=0 "+"99999999999999 60000 0 0 b 0 0\noffset=0\ninvisibleTime=5000", []byte(nil))
	f.Add(uint8(2), h+"extraInfo=\noffset=\ninvisibleTime=", []byte(nil))
	f.Add(uint8(3), "", []byte(`{"brokerName":"b","acks":[{"c":"g","t":"FuzzPop","r":"0","so":0,"q":0,"pt":1,"it":60000,"b":"/w=="}]}`))
	f.Add(uint8(3), "", []byte(`{"acks":[{"c":"g","t":"FuzzPop","r":"1","so":-9223372036854775808,"q":-1,"b":"//////////8="}]}`))
	f.Add(uint8(3), "", []byte(`{"acks":null}`))
	f.Add(uint8(4), h+"maxMsgNums=32", []byte(nil))
	f.Add(uint8(4), h+"maxMsgNums=2147483647\nqueueId=-1", []byte(nil))
	f.Add(uint8(4), "consumerGroup=\ntopic=%RETRY%g_FuzzPop\nqueueId=-9\nmaxMsgNums=1", []byte(nil))
	f.Add(uint8(5), h+"bornTime=0\norder=true\nattemptId=x", []byte(nil))
	f.Add(uint8(5), h+"bornTime=-9223372036854775808\nqueueId=2147483647", []byte(nil))
	f.Add(uint8(6), h, []byte(nil))
	f.Add(uint8(6), "consumerGroup=g\ntopic=FuzzPop\nqueueId=99999999999", []byte(nil))
	b := startBroker(f)
	rc := netclient.New()
	f.Cleanup(func() { rc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	send := remoting.SendMessageRequestHeader{ProducerGroup: "pg", Topic: "FuzzPop", DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 2, QueueID: 0, BornTimestamp: time.Now().UnixMilli()}
	for range 8 {
		if resp, err := rc.InvokeSync(ctx, b.Addr(), remoting.NewRequest(remoting.SendMessage, &send, []byte("x"))); err != nil || resp.Code != remoting.Success {
			f.Fatalf("send: %v %v", resp, err)
		}
	}
	cancel()
	f.Fuzz(func(t *testing.T, sel uint8, header string, body []byte) {
		code := fuzzCodes[int(sel)%len(fuzzCodes)]
		req := remoting.NewWideRequest(code, nil, body)
		for _, line := range strings.Split(header, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && k != "" {
				req.Ext.Set(k, v)
			}
		}
		if code == remoting.PopMessage || code == remoting.Notification {
			req.Ext.Set("pollTime", "0") // never parked: each input answers at once
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := rc.InvokeSync(ctx, b.Addr(), req)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		if resp.Code == remoting.SystemError && strings.Contains(resp.Remark, "panic") {
			t.Fatalf("processor panicked: %s", resp.Remark)
		}
	})
}

// Closing the broker answers parked pops and stops every goroutine the
// POP service started.
func TestPopShutdownLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	b := startBroker(t)
	rc := netclient.New()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	send := remoting.SendMessageRequestHeader{ProducerGroup: "pg", Topic: "LeakPop", DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 2, QueueID: 0, BornTimestamp: time.Now().UnixMilli()}
	if resp, err := rc.InvokeSync(ctx, b.Addr(), remoting.NewRequest(remoting.SendMessage, &send, []byte("x"))); err != nil || resp.Code != remoting.Success {
		t.Fatalf("send: %v %v", resp, err)
	}
	answered := make(chan int16, 4)
	for i := range 4 {
		h := remoting.PopMessageRequestHeader{ConsumerGroup: "g", Topic: "LeakPop", QueueID: -1, MaxMsgNums: 1,
			InvisibleTime: 60000, PollTime: 30000, BornTime: time.Now().UnixMilli(), InitMode: remoting.PopInitModeMax, Order: i%2 == 0}
		go func() {
			resp, err := rc.InvokeSync(ctx, b.Addr(), remoting.NewWideRequest(remoting.PopMessage, &h, nil))
			if err != nil {
				answered <- -1
				return
			}
			answered <- resp.Code
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.PopParked() < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := b.PopParked(); n != 4 {
		t.Fatalf("%d pops parked, want 4", n)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := b.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		select {
		case code := <-answered:
			if code != remoting.PollingTimeout {
				t.Errorf("parked pop answered %d at shutdown, want POLLING_TIMEOUT", code)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a parked pop was not answered at shutdown")
		}
	}
	rc.Close()
	deadline = time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after shutdown, %d before\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}
