package remoting_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// officialDir is the root module's corpus, read by remoting's fuzz targets and
// TestOfficialCorpus.
const officialDir = "../../remoting/testdata/official"

// fakeCluster is a name server and broker in one 127.0.0.1 listener, built
// on this package's codec only. It answers just enough for the official
// client to publish and to start a push consumer, and records every request
// frame it receives (length prefix included) in arrival order.
type fakeCluster struct {
	ln   net.Listener
	addr string

	mu       sync.Mutex
	frames   [][]byte
	perCode  map[int16]int
	offset   int64
	clientID string
	pulled   chan struct{}

	wg sync.WaitGroup
}

func startFakeCluster(t *testing.T) *fakeCluster {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeCluster{ln: ln, addr: ln.Addr().String(), perCode: map[int16]int{}, pulled: make(chan struct{})}
	conns := map[net.Conn]bool{}
	var connMu sync.Mutex
	fc.wg.Add(1)
	go func() {
		defer fc.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			connMu.Lock()
			conns[c] = true
			connMu.Unlock()
			fc.wg.Add(1)
			go func() {
				defer fc.wg.Done()
				fc.serve(t, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		connMu.Lock()
		for c := range conns {
			c.Close()
		}
		connMu.Unlock()
		fc.wg.Wait()
	})
	return fc
}

func (fc *fakeCluster) serve(t *testing.T, conn net.Conn) {
	var writeMu sync.Mutex
	reply := func(resp *remoting.Command) {
		out, err := remoting.AppendFrame(nil, resp)
		if err != nil {
			t.Errorf("encode reply: %v", err)
			return
		}
		writeMu.Lock()
		defer writeMu.Unlock()
		conn.Write(out) //nolint:errcheck // the client may be gone
	}
	var buf []byte
	rd := make([]byte, 64<<10)
	for {
		n, err := conn.Read(rd)
		if err != nil {
			return
		}
		buf = append(buf, rd[:n]...)
		for {
			_, used, err := remoting.SplitFrame(buf, 0)
			if err != nil {
				t.Errorf("split: %v", err)
				return
			}
			if used == 0 {
				break
			}
			raw := bytes.Clone(buf[:used])
			buf = buf[used:]
			req, err := remoting.DecodeFrame(raw[4:])
			if err != nil {
				t.Errorf("decode official frame: %v", err)
				return
			}
			fc.record(req.Code, raw)
			if resp := fc.handle(req, reply); resp != nil {
				reply(resp)
			}
		}
	}
}

// record keeps at most three frames per code so periodic heartbeats and
// route refreshes do not flood the corpus.
func (fc *fakeCluster) record(code int16, raw []byte) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.perCode[code] >= 3 {
		return
	}
	fc.perCode[code]++
	fc.frames = append(fc.frames, raw)
}

func (fc *fakeCluster) count(code int16) int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.perCode[code]
}

func (fc *fakeCluster) handle(req *remoting.Command, reply func(*remoting.Command)) *remoting.Command {
	switch req.Code {
	case remoting.GetRouteInfoByTopic:
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = fmt.Appendf(nil, `{"brokerDatas":[{"brokerAddrs":{"0":%q},"brokerName":"broker-a","cluster":"DefaultCluster"}],`+
			`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":2}]}`, fc.addr)
		return resp
	case remoting.HeartBeat:
		var hb struct {
			ClientID string `json:"clientID"`
		}
		if json.Unmarshal(req.Body, &hb) == nil && hb.ClientID != "" {
			fc.mu.Lock()
			fc.clientID = hb.ClientID
			fc.mu.Unlock()
		}
		return remoting.NewResponse(req, remoting.Success, "")
	case remoting.SendMessage, remoting.SendMessageV2, remoting.SendBatchMessage:
		var h remoting.SendMessageRequestHeader
		if err := req.DecodeHeader(&h); err != nil {
			return remoting.NewResponse(req, remoting.SystemError, err.Error())
		}
		fc.mu.Lock()
		off := fc.offset
		fc.offset++
		fc.mu.Unlock()
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.SetHeader(&remoting.SendMessageResponseHeader{
			MsgID:       fmt.Sprintf("7F00000100002A9F%016X", off*100),
			QueueID:     h.QueueID,
			QueueOffset: off,
		})
		return resp
	case remoting.GetConsumerListByGroup:
		fc.mu.Lock()
		id := fc.clientID
		fc.mu.Unlock()
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = fmt.Appendf(nil, `{"consumerIdList":[%q]}`, id)
		return resp
	case remoting.QueryConsumerOffset, remoting.GetMaxOffset, remoting.SearchOffsetByTimestamp:
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.SetHeader(&remoting.OffsetResponseHeader{Offset: 0})
		return resp
	case remoting.UpdateConsumerOffset, remoting.UnregisterClient:
		return remoting.NewResponse(req, remoting.Success, "")
	case remoting.PullMessage:
		fc.mu.Lock()
		select {
		case <-fc.pulled:
		default:
			close(fc.pulled)
		}
		fc.mu.Unlock()
		// Answer "no new message" a little later, as a long poll would, so
		// the client does not spin.
		go func() {
			time.Sleep(200 * time.Millisecond)
			resp := remoting.NewResponse(req, remoting.PullNotFound, "")
			resp.SetHeader(&remoting.PullMessageResponseHeader{NextBeginOffset: 0, MinOffset: 0, MaxOffset: 0})
			reply(resp)
		}()
		return nil
	}
	if req.IsOneway() {
		return nil
	}
	return remoting.NewResponse(req, remoting.RequestCodeNotSupported, fmt.Sprintf(" request type %d not supported", req.Code))
}

// TestCaptureOfficialFrames points rocketmq-client-go v2.1.2 at a fake
// cluster and stores the request frames it sends under testdata/official.
// It only runs with ROCKETGO_CAPTURE=1; the stored files are the seed corpus
// of the fuzz targets and are checked by TestOfficialCorpus.
func TestCaptureOfficialFrames(t *testing.T) {
	if os.Getenv("ROCKETGO_CAPTURE") != "1" {
		t.Skip("set ROCKETGO_CAPTURE=1 to regenerate testdata/official")
	}
	rlog.SetLogLevel("error")
	fc := startFakeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	p, err := producer.NewDefaultProducer(
		producer.WithNameServer([]string{fc.addr}),
		producer.WithGroupName("capture_producer"),
		producer.WithRetry(0),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	single := primitive.NewMessage("CaptureTopic", []byte("hello rocketgo"))
	single.WithTag("TagA")
	single.WithKeys([]string{"order-1", "order-2"})
	single.WithProperty("custom", "v\"al\\ue")
	if res, err := p.SendSync(ctx, single); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("single send: %v %v", res, err)
	}
	batch := []*primitive.Message{
		primitive.NewMessage("CaptureTopic", []byte("batch-0")),
		primitive.NewMessage("CaptureTopic", []byte("batch-1")),
		primitive.NewMessage("CaptureTopic", bytes.Repeat([]byte{0, 1, 2, 0xff}, 16)),
	}
	batch[1].WithTag("TagB")
	if res, err := p.SendSync(ctx, batch...); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("batch send: %v %v", res, err)
	}
	// The producer's first heartbeat (producerDataSet only) follows Start by
	// about a second; wait for it so the corpus has one.
	for fc.count(remoting.HeartBeat) == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("producer never sent a heartbeat")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := p.Shutdown(); err != nil {
		t.Fatal(err)
	}

	c, err := consumer.NewPushConsumer(
		consumer.WithNameServer([]string{fc.addr}),
		consumer.WithGroupName("capture_consumer"),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe("CaptureTopic", consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA || TagB"},
		func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-fc.pulled:
	case <-ctx.Done():
		t.Fatal("push consumer never pulled")
	}
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}

	fc.mu.Lock()
	frames := fc.frames
	fc.mu.Unlock()
	old, _ := filepath.Glob(filepath.Join(officialDir, "*.bin"))
	for _, f := range old {
		os.Remove(f)
	}
	if err := os.MkdirAll(officialDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, raw := range frames {
		cmd, _ := remoting.DecodeFrame(raw[4:])
		name := filepath.Join(officialDir, fmt.Sprintf("%02d_%s.bin", i, remoting.CodeName(cmd.Code, false)))
		if err := os.WriteFile(name, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("captured %d frames into %s", len(frames), officialDir)
}
