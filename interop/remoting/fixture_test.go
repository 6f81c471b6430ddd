package remoting_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/remoting"
)

// interopServer plays name server and broker at once on our gnet server
// (the same fixture as server/transport's interop test): route
// lookups point at itself, heartbeats succeed and sends are recorded.
type interopServer struct {
	*transport.Server
	addr atomic.Pointer[string]

	mu         sync.Mutex
	sent       [][]byte // bodies received by SEND_MESSAGE
	topics     []string
	heartbeats int
	offset     int64
	callouts   chan *remoting.Command // answers to server → client requests
	senderConn atomic.Pointer[transport.Conn]
}

const routeTemplate = `{"brokerDatas":[{"brokerAddrs":{"0":"%s"},"brokerName":"b","cluster":"c"}],` +
	`"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":4,"writeQueueNums":4,"topicSysFlag":0}]}`

func startInteropServer(t *testing.T) *interopServer {
	t.Helper()
	is := &interopServer{Server: transport.NewServer("127.0.0.1:0"), callouts: make(chan *remoting.Command, 4)}
	is.Handle(remoting.GetRouteInfoByTopic, func(rc *transport.RequestContext, req *remoting.Command) {
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = fmt.Appendf(nil, routeTemplate, *is.addr.Load())
		_ = rc.Reply(resp)
	})
	is.Handle(remoting.HeartBeat, func(rc *transport.RequestContext, req *remoting.Command) {
		is.mu.Lock()
		is.heartbeats++
		is.mu.Unlock()
		_ = rc.Reply(remoting.NewResponse(req, remoting.Success, ""))
		// Our test client asks for a demonstration of a broker → client call:
		// GET_CONSUMER_RUNNING_INFO on the same connection.
		if req.Ext.Bool("callout") {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				q := remoting.NewRequest(remoting.GetConsumerRunningInfo, nil, nil)
				q.Ext.Set("consumerGroup", "CG")
				resp, err := rc.Conn().Invoke(ctx, q)
				if err != nil {
					resp = remoting.NewResponse(q, remoting.SystemError, err.Error())
				}
				is.callouts <- resp
			}()
		}
	})
	send := func(rc *transport.RequestContext, req *remoting.Command) {
		topic, _ := req.Ext.Get("topic")
		if topic == "" {
			topic, _ = req.Ext.Get("b")
		}
		queueID, _ := req.Ext.Get("queueId")
		if queueID == "" {
			queueID, _ = req.Ext.Get("e")
		}
		is.senderConn.Store(rc.Conn())
		is.mu.Lock()
		is.sent = append(is.sent, req.Body)
		is.topics = append(is.topics, topic)
		off := is.offset
		is.offset++
		is.mu.Unlock()
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Ext.Set("msgId", fmt.Sprintf("7F00000100002A9F%016X", off))
		resp.Ext.Set("queueId", queueID)
		resp.Ext.Set("queueOffset", strconv.FormatInt(off, 10))
		_ = rc.Reply(resp)
	}
	is.Handle(remoting.SendMessage, send)
	is.Handle(remoting.SendMessageV2, send)
	if err := is.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	addr := is.Addr().String()
	is.addr.Store(&addr)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := is.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return is
}

func (is *interopServer) snapshot() (bodies [][]byte, topics []string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	return append([][]byte(nil), is.sent...), append([]string(nil), is.topics...)
}
