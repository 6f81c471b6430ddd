package proxy

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	pb "github.com/rocketgo/rocketgo/server/proxy/v2pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	// defaultTopic is the template topic brokers auto-create topics from
	// (upstream TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC).
	defaultTopic     = "TBW102"
	defaultQueueNums = 4
	// maxBatch is the most messages one ReceiveMessage returns
	// (upstream's POP limit).
	maxBatch = 32
	// requestTimeout bounds one remoting round trip on top of any poll.
	requestTimeout = 5 * time.Second
)

// service implements pb.MessagingServiceServer.
type service struct {
	pb.UnimplementedMessagingServiceServer
	s    *Server
	turn atomic.Uint64

	mu       sync.Mutex
	clients  map[string]*session // by client id
	txGroups map[string]bool     // producer groups registered for check-backs
	fifo     fifoGroups          // consumeMessageOrderly of groups, per broker (fifo.go)
	closed   bool
	done     chan struct{}
}

// session is what the proxy knows of one 5.x client: its settings and
// its telemetry stream, through which check-backs reach it.
type session struct {
	id       string
	settings *pb.Settings
	out      chan *pb.TelemetryCommand
}

func newService(s *Server) *service {
	return &service{s: s, clients: make(map[string]*session), txGroups: make(map[string]bool), done: make(chan struct{})}
}

func (v *service) shutdown() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.closed {
		v.closed = true
		close(v.done)
	}
}

func ok() *pb.Status { return &pb.Status{Code: pb.Code_OK, Message: "OK"} }

func statusOf(code pb.Code, format string, args ...any) *pb.Status {
	return &pb.Status{Code: code, Message: fmt.Sprintf(format, args...)}
}

// errStatus turns an error into a 5.x status.
func errStatus(err error) *pb.Status {
	var bad *errBadMessage
	var re *remoting.ResponseError
	switch {
	case errors.As(err, &bad):
		return statusOf(bad.code, "%s", bad.msg)
	case errors.Is(err, ErrTopicNotFound):
		return statusOf(pb.Code_TOPIC_NOT_FOUND, "%v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return statusOf(pb.Code_PROXY_TIMEOUT, "%v", err)
	case errors.As(err, &re):
		return remotingStatus(re.Code, re.Remark)
	}
	return statusOf(pb.Code_INTERNAL_SERVER_ERROR, "%v", err)
}

// remotingStatus maps a broker's response code onto a 5.x status, as
// upstream's proxy does.
func remotingStatus(code int16, remark string) *pb.Status {
	c := pb.Code_INTERNAL_SERVER_ERROR
	switch code {
	case remoting.Success:
		c = pb.Code_OK
	case remoting.FlushDiskTimeout:
		c = pb.Code_MASTER_PERSISTENCE_TIMEOUT
	case remoting.SlaveNotAvailable:
		c = pb.Code_HA_NOT_AVAILABLE
	case remoting.FlushSlaveTimeout:
		c = pb.Code_SLAVE_PERSISTENCE_TIMEOUT
	case remoting.SystemBusy:
		c = pb.Code_TOO_MANY_REQUESTS
	case remoting.MessageIllegal, remoting.IllegalOperation:
		c = pb.Code_BAD_REQUEST
	case remoting.NoPermission:
		c = pb.Code_FORBIDDEN
	case remoting.TopicNotExist:
		c = pb.Code_TOPIC_NOT_FOUND
	case remoting.SubscriptionGroupNotExist:
		c = pb.Code_CONSUMER_GROUP_NOT_FOUND
	case remoting.ServiceNotAvailable:
		c = pb.Code_INTERNAL_SERVER_ERROR
	}
	return &pb.Status{Code: c, Message: remark}
}

func clientID(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	return first(md, mdClientID)
}

// producerGroup is the producer group of messages sent through gRPC to
// topic: 5.x producers have no group, so check-backs of a topic's half
// messages go to whichever 5.x producer of that topic is connected.
func producerGroup(topic string) string { return "GRPC_PRODUCER_" + topic }

// ---------------------------------------------------------------------------
// Routes

func (v *service) QueryRoute(ctx context.Context, req *pb.QueryRouteRequest) (*pb.QueryRouteResponse, error) {
	topic := req.GetTopic().GetName()
	if err := message.ValidateTopic(topic); err != nil {
		return &pb.QueryRouteResponse{Status: statusOf(pb.Code_ILLEGAL_TOPIC, "%v", err)}, nil
	}
	route, queues, err := v.route(ctx, topic)
	if err != nil {
		return &pb.QueryRouteResponse{Status: errStatus(err)}, nil
	}
	ep := v.endpoints(ctx, req.GetEndpoints())
	var mqs []*pb.MessageQueue
	for _, qd := range route.QueueDatas {
		n := max(qd.ReadQueueNums, qd.WriteQueueNums)
		if queues > 0 {
			n = queues
		}
		for i := int32(0); i < n; i++ {
			perm := pb.Permission_NONE
			r, w := i < qd.ReadQueueNums || queues > 0, i < qd.WriteQueueNums || queues > 0
			switch {
			case r && w && qd.Readable() && qd.Writable():
				perm = pb.Permission_READ_WRITE
			case r && qd.Readable():
				perm = pb.Permission_READ
			case w && qd.Writable():
				perm = pb.Permission_WRITE
			}
			mqs = append(mqs, &pb.MessageQueue{
				Topic: &pb.Resource{Name: topic, ResourceNamespace: req.GetTopic().GetResourceNamespace()},
				Id:    i, Permission: perm,
				Broker:             &pb.Broker{Name: qd.BrokerName, Id: 0, Endpoints: ep},
				AcceptMessageTypes: allMessageTypes,
			})
		}
	}
	if len(mqs) == 0 {
		return &pb.QueryRouteResponse{Status: statusOf(pb.Code_TOPIC_NOT_FOUND, "topic %s has no queues", topic)}, nil
	}
	return &pb.QueryRouteResponse{Status: ok(), MessageQueues: mqs}, nil
}

var allMessageTypes = []pb.MessageType{pb.MessageType_NORMAL, pb.MessageType_FIFO, pb.MessageType_DELAY, pb.MessageType_TRANSACTION}

// route returns topic's route; a topic the name servers do not know
// yet gets the route of the auto-create template (queues > 0), as remoting
// producers do: the first send creates it.
func (v *service) route(ctx context.Context, topic string) (*wire.TopicRoute, int32, error) {
	route, err := v.s.cluster.Route(ctx, topic)
	if err == nil {
		return route, 0, nil
	}
	if !errors.Is(err, ErrTopicNotFound) {
		return nil, 0, err
	}
	tmpl, terr := v.s.cluster.Route(ctx, defaultTopic)
	if terr != nil {
		return nil, 0, err
	}
	return tmpl, defaultQueueNums, nil
}

// endpoints is where routes send clients: the address they dialled
// (so a proxy behind NAT or a DNS name keeps working), else Advertise.
func (v *service) endpoints(ctx context.Context, req *pb.Endpoints) *pb.Endpoints {
	if len(req.GetAddresses()) > 0 {
		return req
	}
	_ = peer.Peer{}
	return endpointsOf(v.s.cfg.Advertise)
}

func (v *service) QueryAssignment(ctx context.Context, req *pb.QueryAssignmentRequest) (*pb.QueryAssignmentResponse, error) {
	topic := req.GetTopic().GetName()
	if err := message.ValidateTopic(topic); err != nil {
		return &pb.QueryAssignmentResponse{Status: statusOf(pb.Code_ILLEGAL_TOPIC, "%v", err)}, nil
	}
	if req.GetGroup().GetName() == "" {
		return &pb.QueryAssignmentResponse{Status: statusOf(pb.Code_ILLEGAL_CONSUMER_GROUP, "no consumer group")}, nil
	}
	route, err := v.s.cluster.Route(ctx, topic)
	if err != nil {
		return &pb.QueryAssignmentResponse{Status: errStatus(err)}, nil
	}
	ep := v.endpoints(ctx, req.GetEndpoints())
	// With POP every consumer may pop from every broker: one assignment
	// per readable broker, queue -1 meaning all its queues.
	var as []*pb.Assignment
	for _, qd := range route.QueueDatas {
		if !qd.Readable() || qd.ReadQueueNums == 0 {
			continue
		}
		as = append(as, &pb.Assignment{MessageQueue: &pb.MessageQueue{
			Topic: req.GetTopic(), Id: -1, Permission: pb.Permission_READ_WRITE,
			Broker:             &pb.Broker{Name: qd.BrokerName, Endpoints: ep},
			AcceptMessageTypes: allMessageTypes,
		}})
	}
	sort.Slice(as, func(i, j int) bool { return as[i].MessageQueue.Broker.Name < as[j].MessageQueue.Broker.Name })
	return &pb.QueryAssignmentResponse{Status: ok(), Assignments: as}, nil
}

func (v *service) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	if clientID(ctx) == "" {
		return &pb.HeartbeatResponse{Status: statusOf(pb.Code_CLIENT_ID_REQUIRED, "no x-mq-client-id metadata")}, nil
	}
	return &pb.HeartbeatResponse{Status: ok()}, nil
}

func (v *service) NotifyClientTermination(ctx context.Context, req *pb.NotifyClientTerminationRequest) (*pb.NotifyClientTerminationResponse, error) {
	id := clientID(ctx)
	v.mu.Lock()
	delete(v.clients, id)
	v.mu.Unlock()
	return &pb.NotifyClientTerminationResponse{Status: ok()}, nil
}

// ---------------------------------------------------------------------------
// Sending

func (v *service) SendMessage(ctx context.Context, req *pb.SendMessageRequest) (*pb.SendMessageResponse, error) {
	msgs := req.GetMessages()
	if len(msgs) == 0 {
		return &pb.SendMessageResponse{Status: statusOf(pb.Code_BAD_REQUEST, "no messages")}, nil
	}
	now := time.Now()
	entries := make([]*pb.SendResultEntry, 0, len(msgs))
	worst := ok()
	for _, m := range msgs {
		e := v.sendOne(ctx, m, now)
		if e.Status.Code != pb.Code_OK && worst.Code == pb.Code_OK {
			worst = e.Status
		}
		entries = append(entries, e)
	}
	return &pb.SendMessageResponse{Status: worst, Entries: entries}, nil
}

func (v *service) sendOne(ctx context.Context, m *pb.Message, now time.Time) *pb.SendResultEntry {
	out, err := toRemoting(m, producerGroup, now)
	if err != nil {
		return &pb.SendResultEntry{Status: errStatus(err)}
	}
	if out.transaction {
		if err := v.registerTxGroup(out.header.ProducerGroup); err != nil {
			return &pb.SendResultEntry{Status: errStatus(err), MessageId: out.msgID}
		}
	}
	route, queues, err := v.route(ctx, out.topic)
	if err != nil {
		return &pb.SendResultEntry{Status: errStatus(err), MessageId: out.msgID}
	}
	broker, qid, found := v.pickQueue(route, queues, out.group)
	if !found {
		return &pb.SendResultEntry{Status: statusOf(pb.Code_FORBIDDEN, "topic %s has no writable queue", out.topic), MessageId: out.msgID}
	}
	out.header.QueueID = qid
	out.header.BrokerName = broker
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := v.s.cluster.Invoke(rctx, out.topic, broker, remoting.NewRequest(remoting.SendMessageV2, out.header.V2(), out.body))
	if err != nil {
		return &pb.SendResultEntry{Status: errStatus(err), MessageId: out.msgID}
	}
	if resp.Code != remoting.Success {
		return &pb.SendResultEntry{Status: remotingStatus(resp.Code, resp.Remark), MessageId: out.msgID}
	}
	var rh remoting.SendMessageResponseHeader
	if err := resp.DecodeHeader(&rh); err != nil {
		return &pb.SendResultEntry{Status: statusOf(pb.Code_INTERNAL_SERVER_ERROR, "bad send response: %v", err), MessageId: out.msgID}
	}
	e := &pb.SendResultEntry{Status: ok(), MessageId: out.msgID, Offset: rh.QueueOffset, RecallHandle: rh.RecallHandle}
	if out.transaction {
		e.TransactionId = transactionID{broker: broker, offsetMsgID: rh.MsgID, queueOffset: rh.QueueOffset}.String()
	}
	return e
}

// pickQueue chooses the queue of a send: by message group for FIFO
// messages (one group, one queue, so order holds), round robin otherwise.
func (v *service) pickQueue(route *wire.TopicRoute, queues int32, group string) (string, int32, bool) {
	type q struct {
		broker string
		id     int32
	}
	var all []q
	qds := append([]wire.QueueData(nil), route.QueueDatas...)
	sort.Slice(qds, func(i, j int) bool { return qds[i].BrokerName < qds[j].BrokerName })
	for _, qd := range qds {
		if !qd.Writable() {
			continue
		}
		n := qd.WriteQueueNums
		if queues > 0 {
			n = queues
		}
		for i := int32(0); i < n; i++ {
			all = append(all, q{qd.BrokerName, i})
		}
	}
	if len(all) == 0 {
		return "", 0, false
	}
	var i uint64
	if group != "" {
		h := fnv.New32a()
		h.Write([]byte(group))
		i = uint64(h.Sum32())
	} else {
		i = v.turn.Add(1)
	}
	p := all[i%uint64(len(all))]
	return p.broker, p.id, true
}

// transactionID names a half message for EndTransaction and check-backs:
// its broker, offset message id (store host and commit-log offset) and
// queue offset in the half topic.
type transactionID struct {
	broker      string
	offsetMsgID string
	queueOffset int64
}

func (t transactionID) String() string {
	return t.broker + "|" + t.offsetMsgID + "|" + strconv.FormatInt(t.queueOffset, 10)
}

func parseTransactionID(s string) (transactionID, int64, error) {
	parts := strings.Split(s, "|")
	if len(parts) != 3 || parts[0] == "" {
		return transactionID{}, 0, badMessage(pb.Code_INVALID_TRANSACTION_ID, "invalid transaction id %q", s)
	}
	qo, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || qo < 0 {
		return transactionID{}, 0, badMessage(pb.Code_INVALID_TRANSACTION_ID, "invalid transaction id %q", s)
	}
	_, phys, err := message.ParseOffsetMsgID(parts[1])
	if err != nil {
		return transactionID{}, 0, badMessage(pb.Code_INVALID_TRANSACTION_ID, "invalid transaction id %q", s)
	}
	return transactionID{broker: parts[0], offsetMsgID: parts[1], queueOffset: qo}, phys, nil
}

func (v *service) EndTransaction(ctx context.Context, req *pb.EndTransactionRequest) (*pb.EndTransactionResponse, error) {
	topic := req.GetTopic().GetName()
	if err := message.ValidateTopic(topic); err != nil {
		return &pb.EndTransactionResponse{Status: statusOf(pb.Code_ILLEGAL_TOPIC, "%v", err)}, nil
	}
	tid, phys, err := parseTransactionID(req.GetTransactionId())
	if err != nil {
		return &pb.EndTransactionResponse{Status: errStatus(err)}, nil
	}
	var how int32
	switch req.GetResolution() {
	case pb.TransactionResolution_COMMIT:
		how = 8
	case pb.TransactionResolution_ROLLBACK:
		how = 12
	default:
		return &pb.EndTransactionResponse{Status: statusOf(pb.Code_BAD_REQUEST, "resolution %v", req.GetResolution())}, nil
	}
	h := &remoting.EndTransactionRequestHeader{
		ProducerGroup: producerGroup(topic), TranStateTableOffset: tid.queueOffset, CommitLogOffset: phys,
		CommitOrRollback: how, FromTransactionCheck: req.GetSource() == pb.TransactionSource_SOURCE_SERVER_CHECK,
		MsgID: req.GetMessageId(), TransactionID: req.GetMessageId(), Topic: topic, BrokerName: tid.broker,
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := v.s.cluster.Invoke(rctx, topic, tid.broker, remoting.NewRequest(remoting.EndTransaction, h, nil))
	if err != nil {
		return &pb.EndTransactionResponse{Status: errStatus(err)}, nil
	}
	return &pb.EndTransactionResponse{Status: remotingStatus(resp.Code, resp.Remark)}, nil
}

// ---------------------------------------------------------------------------
// Receiving (POP)

// receiptHandle is a POP checkpoint handle plus the message's commit-log
// offset, which forwarding to the DLQ needs.
type receiptHandle struct {
	ei   remoting.ExtraInfo
	phys int64
}

func (r receiptHandle) String() string {
	return r.ei.String() + "|" + strconv.FormatInt(r.phys, 10)
}

func parseReceiptHandle(s string) (receiptHandle, error) {
	i := strings.LastIndexByte(s, '|')
	if i < 0 {
		return receiptHandle{}, badMessage(pb.Code_INVALID_RECEIPT_HANDLE, "invalid receipt handle")
	}
	phys, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil {
		return receiptHandle{}, badMessage(pb.Code_INVALID_RECEIPT_HANDLE, "invalid receipt handle")
	}
	ei, err := remoting.ParseExtraInfo(s[:i])
	if err != nil || ei.QueueOffset < 0 || ei.BrokerName == "" {
		return receiptHandle{}, badMessage(pb.Code_INVALID_RECEIPT_HANDLE, "invalid receipt handle")
	}
	return receiptHandle{ei: ei, phys: phys}, nil
}

// pollTime is how long a ReceiveMessage may wait on the broker: the
// request's long-polling timeout, else the client's settings, else the
// default, always leaving the client's deadline room for the answer.
func (v *service) pollTime(ctx context.Context, req *pb.ReceiveMessageRequest) time.Duration {
	d := v.s.cfg.DefaultPollTime
	if lp := req.GetLongPollingTimeout(); lp != nil && lp.CheckValid() == nil {
		d = lp.AsDuration()
	} else if st := v.settings(clientID(ctx)); st != nil {
		if lp := st.GetSubscription().GetLongPollingTimeout(); lp != nil && lp.CheckValid() == nil {
			d = lp.AsDuration()
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) - time.Second; left < d {
			d = left
		}
	}
	return max(d, 0)
}

func (v *service) ReceiveMessage(req *pb.ReceiveMessageRequest, stream pb.MessagingService_ReceiveMessageServer) error {
	ctx := stream.Context()
	send := func(st *pb.Status) error {
		return stream.Send(&pb.ReceiveMessageResponse{Content: &pb.ReceiveMessageResponse_Status{Status: st}})
	}
	group := req.GetGroup().GetName()
	if group == "" {
		return send(statusOf(pb.Code_ILLEGAL_CONSUMER_GROUP, "no consumer group"))
	}
	mq := req.GetMessageQueue()
	topic := mq.GetTopic().GetName()
	if err := message.ValidateTopic(topic); err != nil {
		return send(statusOf(pb.Code_ILLEGAL_TOPIC, "%v", err))
	}
	batch := req.GetBatchSize()
	if batch < 1 || batch > maxBatch {
		return send(statusOf(pb.Code_BAD_REQUEST, "batch size %d not in [1, %d]", batch, maxBatch))
	}
	inv := req.GetInvisibleDuration()
	if inv == nil || inv.CheckValid() != nil || inv.AsDuration() < time.Millisecond {
		return send(statusOf(pb.Code_ILLEGAL_INVISIBLE_TIME, "invisible duration missing or under 1ms"))
	}
	expType, exp := "TAG", "*"
	if f := req.GetFilterExpression(); f != nil {
		if f.GetType() == pb.FilterType_SQL {
			expType = "SQL92"
		}
		if f.GetExpression() != "" {
			exp = f.GetExpression()
		}
	}
	broker := mq.GetBroker().GetName()
	if broker == "" {
		route, err := v.s.cluster.Route(ctx, topic)
		if err != nil {
			return send(errStatus(err))
		}
		for _, qd := range route.QueueDatas {
			if qd.Readable() {
				broker = qd.BrokerName
				break
			}
		}
		if broker == "" {
			return send(statusOf(pb.Code_FORBIDDEN, "topic %s is not readable", topic))
		}
	}
	poll := v.pollTime(ctx, req)
	popTime := time.Now()
	h := &remoting.PopMessageRequestHeader{
		ConsumerGroup: group, Topic: topic, QueueID: -1, MaxMsgNums: batch,
		InvisibleTime: inv.AsDuration().Milliseconds(), PollTime: poll.Milliseconds(), BornTime: popTime.UnixMilli(),
		InitMode: remoting.PopInitModeMax, ExpType: expType, Exp: exp, BrokerName: broker,
		Order: v.groupFifo(ctx, topic, broker, group),
	}
	rctx, cancel := context.WithTimeout(ctx, poll+requestTimeout)
	defer cancel()
	stop := context.AfterFunc(v.doneCtx(), cancel)
	defer stop()
	resp, err := v.s.cluster.Invoke(rctx, topic, broker, remoting.NewWideRequest(remoting.PopMessage, h, nil))
	if err != nil {
		return send(errStatus(err))
	}
	switch resp.Code {
	case remoting.Success:
	case remoting.PollingTimeout, remoting.PullNotFound, remoting.NoMessage, remoting.PollingFull:
		return send(statusOf(pb.Code_MESSAGE_NOT_FOUND, "no new message"))
	default:
		return send(remotingStatus(resp.Code, resp.Remark))
	}
	msgs, err := v.decodePop(resp, group, broker)
	if err != nil {
		return send(statusOf(pb.Code_INTERNAL_SERVER_ERROR, "%v", err))
	}
	if len(msgs) == 0 {
		return send(statusOf(pb.Code_MESSAGE_NOT_FOUND, "no new message"))
	}
	if err := send(ok()); err != nil {
		return err
	}
	for _, m := range msgs {
		if err := stream.Send(&pb.ReceiveMessageResponse{Content: &pb.ReceiveMessageResponse_Message{
			Message: toProto(m.ext, topic, mq.GetTopic().GetResourceNamespace(), m.handle.String(), inv.AsDuration()),
		}}); err != nil {
			return err
		}
	}
	return stream.Send(&pb.ReceiveMessageResponse{Content: &pb.ReceiveMessageResponse_DeliveryTimestamp{DeliveryTimestamp: timestamppb.New(popTime)}})
}

func (v *service) doneCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-v.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx
}

type popped struct {
	ext    *message.MessageExt
	handle receiptHandle
}

// decodePop reads a POP_MESSAGE answer and gives each message its
// receipt handle, as our SimpleConsumer does.
func (v *service) decodePop(resp *remoting.Command, group, broker string) ([]popped, error) {
	var rh remoting.PopMessageResponseHeader
	if err := resp.DecodeHeader(&rh); err != nil {
		return nil, fmt.Errorf("bad POP response header: %w", err)
	}
	msgs, err := message.DecodeMessages(resp.Body)
	if err != nil {
		return nil, err
	}
	starts, err := remoting.ParsePopOffsetInfo(rh.StartOffsetInfo)
	if err != nil {
		return nil, err
	}
	out := make([]popped, 0, len(msgs))
	for _, m := range msgs {
		if v, ok := m.Property(message.PropertyPopCK); ok {
			// A redelivery from the retry topic: the broker wrote the handle.
			ei, err := remoting.ParseExtraInfo(v)
			if err != nil {
				return nil, fmt.Errorf("bad POP_CK %q", v)
			}
			out = append(out, popped{m, receiptHandle{ei: ei, phys: m.CommitLogOffset}})
			continue
		}
		k := remoting.PopQueueKey{RetryMark: remoting.PopRetryMark(m.Topic), QueueID: m.QueueID}
		st, ok := starts[k]
		if !ok || len(st) != 1 {
			return nil, fmt.Errorf("POP response has no start offset for queue %d", m.QueueID)
		}
		ei := remoting.ExtraInfo{
			CkQueueOffset: st[0], PopTime: rh.PopTime, InvisibleTime: rh.InvisibleTime, ReviveQid: rh.ReviveQid,
			RetryMark: k.RetryMark, BrokerName: broker, QueueID: m.QueueID, QueueOffset: m.QueueOffset,
		}
		out = append(out, popped{m, receiptHandle{ei: ei, phys: m.CommitLogOffset}})
	}
	_ = group
	return out, nil
}

func (v *service) AckMessage(ctx context.Context, req *pb.AckMessageRequest) (*pb.AckMessageResponse, error) {
	group, topic := req.GetGroup().GetName(), req.GetTopic().GetName()
	if group == "" {
		return &pb.AckMessageResponse{Status: statusOf(pb.Code_ILLEGAL_CONSUMER_GROUP, "no consumer group")}, nil
	}
	if err := message.ValidateTopic(topic); err != nil {
		return &pb.AckMessageResponse{Status: statusOf(pb.Code_ILLEGAL_TOPIC, "%v", err)}, nil
	}
	if len(req.GetEntries()) == 0 {
		return &pb.AckMessageResponse{Status: statusOf(pb.Code_BAD_REQUEST, "no entries")}, nil
	}
	worst := ok()
	var entries []*pb.AckMessageResultEntry
	for _, e := range req.GetEntries() {
		st := v.ackOne(ctx, group, topic, e.GetReceiptHandle())
		if st.Code != pb.Code_OK && worst.Code == pb.Code_OK {
			worst = st
		}
		entries = append(entries, &pb.AckMessageResultEntry{MessageId: e.GetMessageId(), ReceiptHandle: e.GetReceiptHandle(), Status: st})
	}
	return &pb.AckMessageResponse{Status: worst, Entries: entries}, nil
}

func (v *service) ackOne(ctx context.Context, group, topic, handle string) *pb.Status {
	rh, err := parseReceiptHandle(handle)
	if err != nil {
		return errStatus(err)
	}
	topic, err = remoting.PopRealTopic(topic, group, rh.ei.RetryMark)
	if err != nil {
		return statusOf(pb.Code_INVALID_RECEIPT_HANDLE, "%v", err)
	}
	h := &remoting.AckMessageRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: rh.ei.QueueID,
		ExtraInfo: rh.ei.String(), Offset: rh.ei.QueueOffset, BrokerName: rh.ei.BrokerName}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := v.s.cluster.Invoke(rctx, topic, rh.ei.BrokerName, remoting.NewWideRequest(remoting.AckMessage, h, nil))
	if err != nil {
		return errStatus(err)
	}
	if resp.Code == remoting.NoMessage {
		return statusOf(pb.Code_INVALID_RECEIPT_HANDLE, "receipt handle expired: %s", resp.Remark)
	}
	return remotingStatus(resp.Code, resp.Remark)
}

func (v *service) ChangeInvisibleDuration(ctx context.Context, req *pb.ChangeInvisibleDurationRequest) (*pb.ChangeInvisibleDurationResponse, error) {
	group, topic := req.GetGroup().GetName(), req.GetTopic().GetName()
	if group == "" {
		return &pb.ChangeInvisibleDurationResponse{Status: statusOf(pb.Code_ILLEGAL_CONSUMER_GROUP, "no consumer group")}, nil
	}
	if err := message.ValidateTopic(topic); err != nil {
		return &pb.ChangeInvisibleDurationResponse{Status: statusOf(pb.Code_ILLEGAL_TOPIC, "%v", err)}, nil
	}
	d := req.GetInvisibleDuration()
	if d == nil || d.CheckValid() != nil || d.AsDuration() < 0 {
		return &pb.ChangeInvisibleDurationResponse{Status: statusOf(pb.Code_ILLEGAL_INVISIBLE_TIME, "invalid invisible duration")}, nil
	}
	rh, err := parseReceiptHandle(req.GetReceiptHandle())
	if err != nil {
		return &pb.ChangeInvisibleDurationResponse{Status: errStatus(err)}, nil
	}
	if topic, err = remoting.PopRealTopic(topic, group, rh.ei.RetryMark); err != nil {
		return &pb.ChangeInvisibleDurationResponse{Status: statusOf(pb.Code_INVALID_RECEIPT_HANDLE, "%v", err)}, nil
	}
	h := &remoting.ChangeInvisibleTimeRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: rh.ei.QueueID,
		ExtraInfo: rh.ei.String(), Offset: rh.ei.QueueOffset, InvisibleTime: d.AsDuration().Milliseconds(), BrokerName: rh.ei.BrokerName}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := v.s.cluster.Invoke(rctx, topic, rh.ei.BrokerName, remoting.NewWideRequest(remoting.ChangeMessageInvisibleTime, h, nil))
	if err != nil {
		return &pb.ChangeInvisibleDurationResponse{Status: errStatus(err)}, nil
	}
	if resp.Code == remoting.NoMessage {
		return &pb.ChangeInvisibleDurationResponse{Status: statusOf(pb.Code_INVALID_RECEIPT_HANDLE, "receipt handle expired: %s", resp.Remark)}, nil
	}
	if resp.Code != remoting.Success {
		return &pb.ChangeInvisibleDurationResponse{Status: remotingStatus(resp.Code, resp.Remark)}, nil
	}
	var ch remoting.ChangeInvisibleTimeResponseHeader
	if err := resp.DecodeHeader(&ch); err != nil {
		return &pb.ChangeInvisibleDurationResponse{Status: statusOf(pb.Code_INTERNAL_SERVER_ERROR, "bad response: %v", err)}, nil
	}
	// The new checkpoint starts at the message itself.
	rh.ei.CkQueueOffset, rh.ei.PopTime, rh.ei.InvisibleTime, rh.ei.ReviveQid = rh.ei.QueueOffset, ch.PopTime, ch.InvisibleTime, ch.ReviveQid
	return &pb.ChangeInvisibleDurationResponse{Status: ok(), ReceiptHandle: rh.String()}, nil
}

func (v *service) ForwardMessageToDeadLetterQueue(ctx context.Context, req *pb.ForwardMessageToDeadLetterQueueRequest) (*pb.ForwardMessageToDeadLetterQueueResponse, error) {
	group, topic := req.GetGroup().GetName(), req.GetTopic().GetName()
	if group == "" {
		return &pb.ForwardMessageToDeadLetterQueueResponse{Status: statusOf(pb.Code_ILLEGAL_CONSUMER_GROUP, "no consumer group")}, nil
	}
	if err := message.ValidateTopic(topic); err != nil {
		return &pb.ForwardMessageToDeadLetterQueueResponse{Status: statusOf(pb.Code_ILLEGAL_TOPIC, "%v", err)}, nil
	}
	rh, err := parseReceiptHandle(req.GetReceiptHandle())
	if err != nil {
		return &pb.ForwardMessageToDeadLetterQueueResponse{Status: errStatus(err)}, nil
	}
	// A negative delay level sends the message straight to the group's
	// DLQ (upstream's sendMessageBack); then the POP checkpoint is acked
	// so it is not revived as well.
	h := &remoting.ConsumerSendMsgBackRequestHeader{Offset: rh.phys, Group: group, DelayLevel: -1,
		OriginMsgID: req.GetMessageId(), OriginTopic: topic, BrokerName: rh.ei.BrokerName}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := v.s.cluster.Invoke(rctx, topic, rh.ei.BrokerName, remoting.NewRequest(remoting.ConsumerSendMsgBack, h, nil))
	if err != nil {
		return &pb.ForwardMessageToDeadLetterQueueResponse{Status: errStatus(err)}, nil
	}
	if resp.Code != remoting.Success {
		return &pb.ForwardMessageToDeadLetterQueueResponse{Status: remotingStatus(resp.Code, resp.Remark)}, nil
	}
	return &pb.ForwardMessageToDeadLetterQueueResponse{Status: v.ackOne(ctx, group, topic, req.GetReceiptHandle())}, nil
}

// RecallMessage cancels a timer or delay message before it is delivered:
// the broker the handle names gets a RECALL_MESSAGE, whose checks (handle
// of another topic, time passed, recall disabled) answer as the broker
// decides. The handle is the one SendMessage returned for the message.
func (v *service) RecallMessage(ctx context.Context, req *pb.RecallMessageRequest) (*pb.RecallMessageResponse, error) {
	topic := req.GetTopic().GetName()
	if err := message.ValidateTopic(topic); err != nil {
		return &pb.RecallMessageResponse{Status: statusOf(pb.Code_ILLEGAL_TOPIC, "%v", err)}, nil
	}
	if strings.HasPrefix(topic, "%RETRY%") || strings.HasPrefix(topic, "%DLQ%") {
		return &pb.RecallMessageResponse{Status: statusOf(pb.Code_ILLEGAL_TOPIC, "messages of %s cannot be recalled", topic)}, nil
	}
	rh, err := message.ParseRecallHandle(req.GetRecallHandle())
	if err != nil {
		return &pb.RecallMessageResponse{Status: statusOf(pb.Code_BAD_REQUEST, "%v", err)}, nil
	}
	h := &remoting.RecallMessageRequestHeader{ProducerGroup: producerGroup(topic), Topic: topic,
		RecallHandle: req.GetRecallHandle(), BrokerName: rh.BrokerName}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := v.s.cluster.Invoke(rctx, topic, rh.BrokerName, remoting.NewRequest(remoting.RecallMessage, h, nil))
	if err != nil {
		return &pb.RecallMessageResponse{Status: errStatus(err)}, nil
	}
	if resp.Code != remoting.Success {
		return &pb.RecallMessageResponse{Status: remotingStatus(resp.Code, resp.Remark)}, nil
	}
	var out remoting.RecallMessageResponseHeader
	if err := resp.DecodeHeader(&out); err != nil {
		return &pb.RecallMessageResponse{Status: statusOf(pb.Code_INTERNAL_SERVER_ERROR, "bad recall response: %v", err)}, nil
	}
	return &pb.RecallMessageResponse{Status: ok(), MessageId: out.MsgID}, nil
}

// ---------------------------------------------------------------------------
// Telemetry

func (v *service) settings(id string) *pb.Settings {
	v.mu.Lock()
	defer v.mu.Unlock()
	if c := v.clients[id]; c != nil {
		return c.settings
	}
	return nil
}

// Telemetry is the client's long-lived stream: it sends its settings
// (answered with the server's view of them) and results of commands; the
// proxy sends transaction check-backs down it.
func (v *service) Telemetry(stream pb.MessagingService_TelemetryServer) error {
	ctx := stream.Context()
	id := clientID(ctx)
	if id == "" {
		return grpcstatus.Error(codes.InvalidArgument, "no x-mq-client-id metadata")
	}
	sess := &session{id: id, out: make(chan *pb.TelemetryCommand, 16)}
	recvErr := make(chan error, 1)
	go func() {
		for {
			cmd, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			if reply := v.onTelemetry(ctx, sess, cmd); reply != nil {
				select {
				case sess.out <- reply:
				case <-ctx.Done():
					recvErr <- ctx.Err()
					return
				}
			}
		}
	}()
	defer func() {
		v.mu.Lock()
		if v.clients[id] == sess {
			delete(v.clients, id)
		}
		v.mu.Unlock()
	}()
	for {
		select {
		case cmd := <-sess.out:
			if err := stream.Send(cmd); err != nil {
				return err
			}
		case err := <-recvErr:
			if err == nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return nil
		case <-v.done:
			return grpcstatus.Error(codes.Unavailable, "proxy shutting down")
		}
	}
}

func (v *service) onTelemetry(ctx context.Context, sess *session, cmd *pb.TelemetryCommand) *pb.TelemetryCommand {
	switch c := cmd.GetCommand().(type) {
	case *pb.TelemetryCommand_Settings:
		st := c.Settings
		if st == nil {
			return &pb.TelemetryCommand{Status: statusOf(pb.Code_BAD_REQUEST, "empty settings")}
		}
		v.mu.Lock()
		sess.settings = st
		v.clients[sess.id] = sess
		v.mu.Unlock()
		if pubs := st.GetPublishing(); pubs != nil {
			for _, t := range pubs.GetTopics() {
				if message.ValidateTopic(t.GetName()) == nil {
					// Check-backs for this topic's half messages come here.
					_ = v.registerTxGroup(producerGroup(t.GetName()))
				}
			}
		}
		out := serverSettings(st)
		if sub := out.GetSubscription(); sub != nil && v.subscriptionFifo(ctx, st) {
			sub.Fifo = proto(true)
		}
		return &pb.TelemetryCommand{Status: ok(), Command: &pb.TelemetryCommand_Settings{Settings: out}}
	case *pb.TelemetryCommand_ThreadStackTrace, *pb.TelemetryCommand_VerifyMessageResult:
		// Answers to commands we only send on request; nothing to do.
		return nil
	default:
		return &pb.TelemetryCommand{Status: statusOf(pb.Code_UNRECOGNIZED_CLIENT_TYPE, "unsupported telemetry command")}
	}
}

// serverSettings answers a client's settings with the server's: the
// client's own plus the limits the proxy enforces.
func serverSettings(c *pb.Settings) *pb.Settings {
	st := &pb.Settings{
		ClientType:     c.ClientType,
		AccessPoint:    c.AccessPoint,
		RequestTimeout: c.GetRequestTimeout(),
		UserAgent:      c.GetUserAgent(),
		Metric:         &pb.Metric{On: false},
		BackoffPolicy: &pb.RetryPolicy{MaxAttempts: 3, Strategy: &pb.RetryPolicy_ExponentialBackoff{ExponentialBackoff: &pb.ExponentialBackoff{
			Initial: durationpb.New(10 * time.Millisecond), Max: durationpb.New(time.Second), Multiplier: 2}}},
	}
	if c.BackoffPolicy != nil {
		st.BackoffPolicy = c.BackoffPolicy
	}
	switch p := c.GetPubSub().(type) {
	case *pb.Settings_Publishing:
		st.PubSub = &pb.Settings_Publishing{Publishing: &pb.Publishing{
			Topics: p.Publishing.GetTopics(), MaxBodySize: maxBodySize, ValidateMessageType: true,
		}}
	case *pb.Settings_Subscription:
		sub := p.Subscription
		st.PubSub = &pb.Settings_Subscription{Subscription: &pb.Subscription{
			Group: sub.GetGroup(), Subscriptions: sub.GetSubscriptions(), Fifo: proto(false),
			ReceiveBatchSize: proto(int32(maxBatch)), LongPollingTimeout: sub.GetLongPollingTimeout(),
		}}
	}
	return st
}

// registerTxGroup makes the brokers send check-backs of group's half
// messages to the proxy, once per group.
func (v *service) registerTxGroup(group string) error {
	v.mu.Lock()
	done := v.txGroups[group]
	v.txGroups[group] = true
	v.mu.Unlock()
	if done {
		return nil
	}
	topic := strings.TrimPrefix(group, "GRPC_PRODUCER_")
	err := v.s.cluster.RegisterProducer(group, func(ctx context.Context, h *remoting.CheckTransactionStateRequestHeader, msg *message.MessageExt) {
		v.checkBack(topic, h, msg)
	})
	if err != nil {
		v.mu.Lock()
		delete(v.txGroups, group)
		v.mu.Unlock()
	}
	return err
}

// checkBack forwards a broker's transaction check to a connected 5.x
// producer that publishes to topic.
func (v *service) checkBack(topic string, h *remoting.CheckTransactionStateRequestHeader, msg *message.MessageExt) {
	broker := h.BrokerName
	if broker == "" {
		broker = msg.BrokerName
	}
	if broker == "" {
		// The broker names itself through the route of the topic.
		if route, err := v.s.cluster.Route(context.Background(), topic); err == nil && len(route.QueueDatas) == 1 {
			broker = route.QueueDatas[0].BrokerName
		}
	}
	tid := transactionID{broker: broker, offsetMsgID: h.OffsetMsgID, queueOffset: h.TranStateTableOffset}
	if tid.offsetMsgID == "" {
		tid.offsetMsgID = msg.OffsetMsgID()
	}
	cmd := &pb.TelemetryCommand{Command: &pb.TelemetryCommand_RecoverOrphanedTransactionCommand{
		RecoverOrphanedTransactionCommand: &pb.RecoverOrphanedTransactionCommand{
			Message:       toProto(msg, topic, "", "", 0),
			TransactionId: tid.String(),
		}}}
	v.mu.Lock()
	var target *session
	for _, c := range v.clients {
		for _, t := range c.settings.GetPublishing().GetTopics() {
			if t.GetName() == topic {
				target = c
				break
			}
		}
		if target != nil {
			break
		}
	}
	v.mu.Unlock()
	if target == nil {
		v.s.log.Debug("no 5.x producer for a transaction check", "topic", topic)
		return
	}
	select {
	case target.out <- cmd:
	default:
		v.s.log.Debug("telemetry stream full; check-back dropped", "client", target.id)
	}
}
