package pop

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
	"github.com/rocketgo/rocketgo/server/transport"
)

// Remoting processors of the POP request codes. The broker registers
// them with transport.Server.HandleWide.

// timeoutTooMuchMargin: a pop arriving this long after its own poll time
// ran out (by the client's clock) is answered POLLING_TIMEOUT at once, as
// upstream, so messages are not made invisible for a client that gave up.
const timeoutTooMuchMargin = 500 * time.Millisecond

// maxBatchAckBody bounds a BATCH_ACK_MESSAGE body.
const maxBatchAckBody = 1 << 20

// maxBatchAckOffsets bounds the offsets one BATCH_ACK_MESSAGE names (its
// bit sets could name millions in a megabyte).
const maxBatchAckOffsets = 64 << 10

func reply(rc *transport.RequestContext, req *remoting.Command, code int16, remark string) {
	rc.Reply(remoting.NewResponse(req, code, remark))
}

// replyErr maps a service error onto a response code.
func replyErr(rc *transport.RequestContext, req *remoting.Command, err error) {
	code := remoting.SystemError
	switch {
	case errors.Is(err, ErrBadRequest):
		code = remoting.InvalidParameter
	case errors.Is(err, ErrTopicNotExist):
		code = remoting.TopicNotExist
	case errors.Is(err, ErrGroupNotExist):
		code = remoting.SubscriptionGroupNotExist
	case errors.Is(err, ErrNotServing), errors.Is(err, ErrClosed):
		code = remoting.ServiceNotAvailable
	case errors.Is(err, ErrHandleExpired), errors.Is(err, ErrHandleUnknown):
		code = remoting.NoMessage
	}
	reply(rc, req, code, err.Error())
}

// popRequest turns a POP_MESSAGE header into a PopRequest.
func popRequest(h *remoting.PopMessageRequestHeader) (*PopRequest, error) {
	if h.PollTime < 0 || time.Duration(h.PollTime)*time.Millisecond > MaxPollTime {
		return nil, fmt.Errorf("%w: pollTime %dms not in [0, %v]", ErrBadRequest, h.PollTime, MaxPollTime)
	}
	if h.InvisibleTime <= 0 || h.InvisibleTime > MaxInvisibleTime.Milliseconds() {
		return nil, fmt.Errorf("%w: invisibleTime %dms not in (0, %v]", ErrBadRequest, h.InvisibleTime, MaxInvisibleTime)
	}
	var sub wire.SubscriptionData
	switch strings.ToUpper(h.ExpType) {
	case "", wire.ExpressionTag:
		sub = wire.ParseSubscription(h.Topic, h.Exp, 0)
	default:
		return nil, fmt.Errorf("%w: expression type %q is not supported for POP", ErrBadRequest, h.ExpType)
	}
	return &PopRequest{
		Group: h.ConsumerGroup, Topic: h.Topic, QueueID: h.QueueID,
		MaxMessages: int(h.MaxMsgNums), Invisible: time.Duration(h.InvisibleTime) * time.Millisecond,
		InitMode: h.InitMode, Filter: sub, Order: h.Order,
	}, nil
}

// ProcessPop serves POP_MESSAGE (200050).
func (s *Service) ProcessPop(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.PopMessageRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		reply(rc, req, remoting.InvalidParameter, "bad request header: "+err.Error())
		return
	}
	r, err := popRequest(&h)
	if err != nil {
		replyErr(rc, req, err)
		return
	}
	if h.BornTime > 0 && h.PollTime > 0 &&
		s.nowMs()-h.BornTime-h.PollTime > timeoutTooMuchMargin.Milliseconds() {
		reply(rc, req, remoting.PollingTimeout, "the pop request timed out before it arrived")
		return
	}
	res, err := s.Pop(r)
	if err != nil {
		replyErr(rc, req, err)
		return
	}
	if res.Count > 0 || h.PollTime == 0 {
		s.replyPop(rc, req, res)
		return
	}
	s.park(rc, req, r, time.Duration(h.PollTime)*time.Millisecond)
}

// replyPop answers with what a pop found: SUCCESS and the messages, or
// POLLING_TIMEOUT when there were none (as upstream answers a pop that
// does not wait).
func (s *Service) replyPop(rc *transport.RequestContext, req *remoting.Command, res *PopResult) {
	code, remark := remoting.Success, "FOUND"
	if res.Count == 0 {
		code, remark = remoting.PollingTimeout, "NO_MESSAGE_IN_QUEUE"
	}
	resp := remoting.NewResponse(req, code, remark)
	resp.SetHeader(&res.Header)
	resp.Body = res.Body
	rc.Reply(resp)
}

// errPollStopping and errPollFull are why enterPoll registers no waiter.
var (
	errPollStopping = errors.New("pop: polling stopped")
	errPollFull     = errors.New("pop: poll table full")
)

// enterPoll registers a waiter for key in the poll table, on key's topic
// and on its POP retry topic, and counts it in s.parked. The caller's
// goroutine must call s.parked.Done and s.polls.remove(w, topics...) when
// it leaves. Shared by parked POP and NOTIFICATION requests.
func (s *Service) enterPoll(key queueKey) (w *waiter, topics []string, err error) {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed || s.pollsStopped {
		return nil, nil, errPollStopping
	}
	w = &waiter{wake: make(chan struct{}, 1), key: key}
	topics = []string{key.topic, popRetryTopicOf(key.topic, key.group)}
	if !s.polls.add(w, topics...) {
		return nil, nil, errPollFull
	}
	s.parked.Add(1)
	return w, topics, nil
}

// park holds a pop that found nothing until a message arrives on its
// topic (or its retry topic), its poll time ends, its connection closes
// or the service closes.
func (s *Service) park(rc *transport.RequestContext, req *remoting.Command, r *PopRequest, poll time.Duration) {
	w, topics, err := s.enterPoll(queueKey{group: r.Group, topic: r.Topic, queueID: r.QueueID})
	switch {
	case errors.Is(err, errPollStopping):
		reply(rc, req, remoting.PollingTimeout, "broker is shutting down")
		return
	case errors.Is(err, errPollFull):
		reply(rc, req, remoting.PollingFull, "too many pop requests are waiting")
		return
	}
	rc.MarkParked()
	go func() {
		defer s.parked.Done()
		defer s.polls.remove(w, topics...)
		timer := time.NewTimer(poll)
		defer timer.Stop()
		for {
			select {
			case <-w.wake:
				res, err := s.Pop(r)
				if err != nil {
					replyErr(rc, req, err)
					return
				}
				if res.Count > 0 {
					s.replyPop(rc, req, res)
					return
				}
			case <-timer.C:
				res, err := s.Pop(r)
				if err != nil {
					replyErr(rc, req, err)
					return
				}
				s.replyPop(rc, req, res)
				return
			case <-rc.Context().Done():
				return
			case <-s.pollStop:
				reply(rc, req, remoting.PollingTimeout, "broker is shutting down")
				return
			}
		}
	}()
}

// ProcessAck serves ACK_MESSAGE (200051).
func (s *Service) ProcessAck(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.AckMessageRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		reply(rc, req, remoting.InvalidParameter, "bad request header: "+err.Error())
		return
	}
	if err := s.Ack(&Handle{Group: h.ConsumerGroup, Topic: h.Topic, QueueID: h.QueueID, Offset: h.Offset, ExtraInfo: h.ExtraInfo}); err != nil {
		replyErr(rc, req, err)
		return
	}
	reply(rc, req, remoting.Success, "")
}

// ProcessChangeInvisibleTime serves CHANGE_MESSAGE_INVISIBLETIME (200053).
func (s *Service) ProcessChangeInvisibleTime(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.ChangeInvisibleTimeRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		reply(rc, req, remoting.InvalidParameter, "bad request header: "+err.Error())
		return
	}
	handle := &Handle{Group: h.ConsumerGroup, Topic: h.Topic, QueueID: h.QueueID, Offset: h.Offset, ExtraInfo: h.ExtraInfo}
	popTime, err := s.ChangeInvisible(handle, time.Duration(h.InvisibleTime)*time.Millisecond)
	if err != nil {
		replyErr(rc, req, err)
		return
	}
	ei, _ := remoting.ParseExtraInfo(h.ExtraInfo) // parsed before by ChangeInvisible
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.SetHeader(&remoting.ChangeInvisibleTimeResponseHeader{PopTime: popTime, InvisibleTime: h.InvisibleTime, ReviveQid: ei.ReviveQid})
	rc.Reply(resp)
}

// ProcessBatchAck serves BATCH_ACK_MESSAGE (200151): several offsets of
// several checkpoints in one request. Offsets whose handle expired are
// skipped, as upstream; malformed entries fail the request.
func (s *Service) ProcessBatchAck(rc *transport.RequestContext, req *remoting.Command) {
	if len(req.Body) == 0 || len(req.Body) > maxBatchAckBody {
		reply(rc, req, remoting.InvalidParameter, fmt.Sprintf("batch ack body of %d bytes", len(req.Body)))
		return
	}
	var body wire.BatchAckBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		reply(rc, req, remoting.InvalidParameter, "bad batch ack body: "+err.Error())
		return
	}
	var hs []Handle
	for _, a := range body.Acks {
		topic, err := remoting.PopRealTopic(a.Topic, a.Group, a.Retry)
		if err != nil {
			reply(rc, req, remoting.InvalidParameter, err.Error())
			return
		}
		handle := remoting.ExtraInfo{CkQueueOffset: a.StartOffset, PopTime: a.PopTime, InvisibleTime: a.Invisible,
			ReviveQid: a.ReviveQid, RetryMark: a.Retry, BrokerName: body.BrokerName, QueueID: a.QueueID, QueueOffset: -1}
		extra := handle.String()
		for i, by := range a.BitSet {
			for bit := 0; bit < 8; bit++ {
				if by&(1<<bit) == 0 {
					continue
				}
				if len(hs) >= maxBatchAckOffsets {
					reply(rc, req, remoting.InvalidParameter, fmt.Sprintf("batch ack of more than %d offsets", maxBatchAckOffsets))
					return
				}
				off := a.StartOffset + int64(i*8+bit)
				hs = append(hs, Handle{Group: a.Group, Topic: topic, QueueID: a.QueueID, Offset: off, ExtraInfo: extra})
			}
		}
	}
	errs, err := s.AckAll(hs)
	if err != nil {
		replyErr(rc, req, err)
		return
	}
	for _, err := range errs {
		switch {
		case err == nil, errors.Is(err, ErrHandleExpired), errors.Is(err, ErrHandleUnknown):
		default:
			replyErr(rc, req, err)
			return
		}
	}
	reply(rc, req, remoting.Success, "")
}
