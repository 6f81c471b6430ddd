package pop

import (
	"fmt"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/server/store"
	"github.com/rocketgo/rocketgo/server/transport"
)

// The POP companions: PEEK_MESSAGE reads what a pop would get without
// taking it, NOTIFICATION long-polls until a pop would get something, and
// POLLING_INFO counts the requests parked for a queue. None of them
// changes POP state: no checkpoint, no offset, no journal record.

// validateRead checks that group may read topic's queue queueID (-1: any)
// and reports the topic's read queues and whether the group pops in order.
func (s *Service) validateRead(group, topic string, queueID int32) (queues int, orderly bool, err error) {
	if !s.broker.Serving() {
		return 0, false, ErrNotServing
	}
	n, ok := s.broker.ReadQueues(topic)
	if !ok {
		return 0, false, fmt.Errorf("%w: %s", ErrTopicNotExist, topic)
	}
	if queueID >= int32(n) || queueID < -1 {
		return 0, false, fmt.Errorf("%w: queueId %d of topic %s with %d read queues", ErrBadRequest, queueID, topic, n)
	}
	if _, _, ok := s.broker.Group(group); !ok {
		return 0, false, fmt.Errorf("%w: %s", ErrGroupNotExist, group)
	}
	og, ok := s.broker.(OrderedGroups)
	return n, ok && og.GroupOrderly(group), nil
}

// queuesOf lists the queues a request for queueID (-1: all n) covers.
func queuesOf(queueID int32, n int) []int32 {
	if queueID >= 0 {
		return []int32{queueID}
	}
	qs := make([]int32, n)
	for i := range qs {
		qs[i] = int32(i)
	}
	return qs
}

// PeekResult is what a peek read: stored records as a pull carries them.
type PeekResult struct {
	Body  []byte
	Count int
	Rest  int64 // messages behind the group's POP positions, read or not
}

// Peek reads up to maxMessages messages from the group's POP positions of
// topic (queueID -1: every queue) and then of its POP retry topic, leaving
// every position, checkpoint and invisible time as it was: a pop after a
// peek gets the same messages.
func (s *Service) Peek(group, topic string, queueID int32, maxMessages int) (*PeekResult, error) {
	if maxMessages < 1 || maxMessages > MaxPopMessages {
		return nil, fmt.Errorf("%w: maxMsgNums %d not in [1, %d]", ErrBadRequest, maxMessages, MaxPopMessages)
	}
	n, _, err := s.validateRead(group, topic, queueID)
	if err != nil {
		return nil, err
	}
	retryTopic := popRetryTopicOf(topic, group)
	retryQueues, _ := s.broker.ReadQueues(retryTopic)
	res := &PeekResult{}
	s.mu.Lock()
	defer s.mu.Unlock()
	read := func(topic string, qids []int32) error {
		for _, qid := range qids {
			k := queueKey{group: group, topic: topic, queueID: qid}
			off := s.popOffsetLocked(k, remoting.PopInitModeMin)
			res.Rest += max(s.store.MaxOffset(topic, qid)-off, 0)
			if res.Count >= maxMessages {
				continue
			}
			got, err := s.store.GetMatching(topic, qid, off, maxMessages-res.Count, maxPopBytes-len(res.Body), store.Filter{})
			if err != nil {
				return fmt.Errorf("peek: read %s/%d@%d: %w", topic, qid, off, err)
			}
			for _, buf := range got.Buffers {
				res.Body = append(res.Body, buf...)
			}
			res.Count += len(got.Buffers)
			got.Release()
		}
		return nil
	}
	if err := read(topic, queuesOf(queueID, n)); err != nil {
		return nil, err
	}
	if err := read(retryTopic, queuesOf(-1, retryQueues)); err != nil {
		return nil, err
	}
	return res, nil
}

// HasMessage reports whether a pop of group on topic (queueID -1: any
// queue) would find a message now: one behind the group's POP position of
// the topic or, for a non-orderly pop, of its POP retry topic. An orderly
// queue whose handed-out messages are still open has none to give.
// Subscription filters are not applied, as upstream.
func (s *Service) HasMessage(group, topic string, queueID int32, order bool) (bool, error) {
	n, orderly, err := s.validateRead(group, topic, queueID)
	if err != nil {
		return false, err
	}
	order = order || orderly
	s.mu.Lock()
	defer s.mu.Unlock()
	has := func(topic string, qids []int32) bool {
		for _, qid := range qids {
			k := queueKey{group: group, topic: topic, queueID: qid}
			if order && s.orderBlockedLocked(k) {
				continue
			}
			if s.store.MaxOffset(topic, qid) > s.popOffsetLocked(k, remoting.PopInitModeMin) {
				return true
			}
		}
		return false
	}
	if has(topic, queuesOf(queueID, n)) {
		return true, nil
	}
	if order {
		return false, nil // order pops redeliver in place, never from the retry topic
	}
	retryTopic := popRetryTopicOf(topic, group)
	retryQueues, _ := s.broker.ReadQueues(retryTopic)
	return has(retryTopic, queuesOf(-1, retryQueues)), nil
}

// ProcessPeek serves PEEK_MESSAGE (200052): SUCCESS with the messages, or
// PULL_NOT_FOUND when there are none, as upstream; the header carries
// restNum.
func (s *Service) ProcessPeek(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.PeekMessageRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		reply(rc, req, remoting.InvalidParameter, "bad request header: "+err.Error())
		return
	}
	res, err := s.Peek(h.ConsumerGroup, h.Topic, h.QueueID, int(h.MaxMsgNums))
	if err != nil {
		replyErr(rc, req, err)
		return
	}
	code, remark := remoting.Success, "FOUND"
	if res.Count == 0 {
		code, remark = remoting.PullNotFound, "NO_MESSAGE_IN_QUEUE"
	}
	resp := remoting.NewResponse(req, code, remark)
	resp.SetHeader(&remoting.PopMessageResponseHeader{RestNum: res.Rest})
	resp.Body = res.Body
	rc.Reply(resp)
}

// ProcessNotification serves NOTIFICATION (200054). It answers SUCCESS
// with hasMsg: at once when a pop would find a message, when pollTime is
// 0, when the request timed out in transit or the poll table is full;
// otherwise it parks until a message arrives (hasMsg true) or pollTime
// runs out (hasMsg as found then). Parked requests are answered hasMsg
// false when the broker shuts down.
func (s *Service) ProcessNotification(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.NotificationRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		reply(rc, req, remoting.InvalidParameter, "bad request header: "+err.Error())
		return
	}
	if h.PollTime < 0 || time.Duration(h.PollTime)*time.Millisecond > MaxPollTime {
		reply(rc, req, remoting.InvalidParameter, fmt.Sprintf("pollTime %dms not in [0, %v]", h.PollTime, MaxPollTime))
		return
	}
	check := func() (bool, error) { return s.HasMessage(h.ConsumerGroup, h.Topic, h.QueueID, h.Order) }
	has, err := check()
	if err != nil {
		replyErr(rc, req, err)
		return
	}
	late := h.BornTime > 0 && s.nowMs()-h.BornTime-h.PollTime > timeoutTooMuchMargin.Milliseconds()
	if has || h.PollTime == 0 || late {
		replyNotification(rc, req, has)
		return
	}
	key := queueKey{group: h.ConsumerGroup, topic: h.Topic, queueID: h.QueueID}
	s.parkNotification(rc, req, key, time.Duration(h.PollTime)*time.Millisecond, check)
}

func replyNotification(rc *transport.RequestContext, req *remoting.Command, has bool) {
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.SetHeader(&remoting.NotificationResponseHeader{HasMsg: has})
	rc.Reply(resp)
}

// parkNotification holds a NOTIFICATION in the POP poll table until check
// finds a message after an arrival, the poll time ends, the connection
// closes or the service closes. Its goroutine never runs on the event
// loop.
func (s *Service) parkNotification(rc *transport.RequestContext, req *remoting.Command, key queueKey,
	poll time.Duration, check func() (bool, error)) {
	w, topics, err := s.enterPoll(key)
	if err != nil {
		// Stopping, or a full table: upstream answers both "no message".
		replyNotification(rc, req, false)
		return
	}
	rc.MarkParked()
	go func() {
		defer s.parked.Done()
		defer s.polls.remove(w, topics...)
		timer := time.NewTimer(poll)
		defer timer.Stop()
		// A message may have arrived between the first check and add.
		if has, err := check(); err != nil || has {
			s.answerNotification(rc, req, has, err)
			return
		}
		for {
			select {
			case <-w.wake:
				if has, err := check(); err != nil || has {
					s.answerNotification(rc, req, has, err)
					return
				}
			case <-timer.C:
				has, err := check()
				s.answerNotification(rc, req, has, err)
				return
			case <-rc.Context().Done():
				return
			case <-s.pollStop:
				replyNotification(rc, req, false)
				return
			}
		}
	}()
}

func (s *Service) answerNotification(rc *transport.RequestContext, req *remoting.Command, has bool, err error) {
	if err != nil {
		replyErr(rc, req, err)
		return
	}
	replyNotification(rc, req, has)
}

// ProcessPollingInfo serves POLLING_INFO (200055): pollingNum is the
// number of the group's POP and NOTIFICATION requests parked on the
// topic's queue.
func (s *Service) ProcessPollingInfo(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.PollingInfoRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		reply(rc, req, remoting.InvalidParameter, "bad request header: "+err.Error())
		return
	}
	if _, _, err := s.validateRead(h.ConsumerGroup, h.Topic, h.QueueID); err != nil {
		replyErr(rc, req, err)
		return
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.SetHeader(&remoting.PollingInfoResponseHeader{PollingNum: int32(s.Polling(h.ConsumerGroup, h.Topic, h.QueueID))})
	rc.Reply(resp)
}
