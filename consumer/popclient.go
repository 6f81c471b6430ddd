package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// The POP requests shared by SimpleConsumer and a push consumer in POP
// mode (WithClientRebalance(false)).

// popCall is one POP_MESSAGE to one broker.
type popCall struct {
	broker, topic, expr string
	max                 int
	invisible, await    time.Duration
	order               bool
}

// popMessages sends one POP_MESSAGE and returns what it handed out, each
// message carrying its receipt handle in POP_CK. No messages and no error
// when the broker had none (within the await time).
func popMessages(ctx context.Context, cl *cluster, cfg *config, p popCall) ([]*message.MessageExt, error) {
	addr, err := cl.brokerAddr(ctx, p.broker, p.topic)
	if err != nil {
		return nil, err
	}
	initMode := remoting.PopInitModeMax
	if cfg.consumeFrom == ConsumeFromFirstOffset {
		initMode = remoting.PopInitModeMin
	}
	h := &remoting.PopMessageRequestHeader{
		ConsumerGroup: cfg.group, Topic: p.topic, QueueID: -1, MaxMsgNums: int32(p.max),
		InvisibleTime: p.invisible.Milliseconds(), PollTime: p.await.Milliseconds(), BornTime: time.Now().UnixMilli(),
		InitMode: initMode, ExpType: "TAG", Exp: p.expr, Order: p.order, BrokerName: p.broker,
	}
	// The broker may hold the request for the await time; the request
	// timeout covers the round trip on top of it.
	ctx, cancel := context.WithTimeout(ctx, p.await+cfg.requestTimeout)
	defer cancel()
	resp, err := cl.Invoke(ctx, addr, remoting.NewWideRequest(remoting.PopMessage, h, nil))
	if err != nil {
		return nil, fmt.Errorf("consumer: pop from %s: %w", p.broker, err)
	}
	switch resp.Code {
	case remoting.Success:
	case remoting.PollingTimeout, remoting.PullNotFound, remoting.NoMessage, remoting.PollingFull:
		return nil, nil
	default:
		re := remoting.NewResponseError(remoting.CodeOutOfRange, addr, resp)
		re.Op, re.Broker = "POP_MESSAGE", p.broker
		return nil, fmt.Errorf("consumer: pop: %w", re)
	}
	var rh remoting.PopMessageResponseHeader
	if err := resp.DecodeHeader(&rh); err != nil {
		return nil, fmt.Errorf("consumer: pop: bad response header: %w", err)
	}
	msgs, err := message.DecodeMessages(resp.Body, message.WithCodec(&cl.codec))
	if err != nil {
		return nil, fmt.Errorf("consumer: pop: %w", err)
	}
	starts, err := remoting.ParsePopOffsetInfo(rh.StartOffsetInfo)
	if err != nil {
		return nil, fmt.Errorf("consumer: pop: %w", err)
	}
	for _, m := range msgs {
		m.BrokerName = p.broker
		if _, ok := m.Property(message.PropertyPopCK); ok {
			continue // a redelivery: the broker wrote the handle
		}
		k := remoting.PopQueueKey{RetryMark: remoting.PopRetryMark(m.Topic), QueueID: m.QueueID}
		st, ok := starts[k]
		if !ok || len(st) != 1 {
			return nil, fmt.Errorf("consumer: pop: response has no start offset for queue %d", m.QueueID)
		}
		handle := remoting.ExtraInfo{
			CkQueueOffset: st[0], PopTime: rh.PopTime, InvisibleTime: rh.InvisibleTime, ReviveQid: rh.ReviveQid,
			RetryMark: k.RetryMark, BrokerName: p.broker, QueueID: m.QueueID, QueueOffset: m.QueueOffset,
		}
		m.SetProperty(message.PropertyPopCK, handle.String())
	}
	return msgs, nil
}

// receiptOf returns msg's receipt handle and the topic the broker stores
// it in (the group's POP retry topic for a redelivery).
func receiptOf(group string, msg *message.MessageExt) (remoting.ExtraInfo, string, error) {
	v, ok := msg.Property(message.PropertyPopCK)
	if !ok {
		return remoting.ExtraInfo{}, "", fmt.Errorf("%w: message has no POP_CK", ErrReceiptHandle)
	}
	ei, err := remoting.ParseExtraInfo(v)
	if err != nil || ei.QueueOffset < 0 {
		return remoting.ExtraInfo{}, "", fmt.Errorf("%w: %q", ErrReceiptHandle, v)
	}
	topic, err := remoting.PopRealTopic(msg.Topic, group, ei.RetryMark)
	if err != nil {
		return remoting.ExtraInfo{}, "", fmt.Errorf("%w: %v", ErrReceiptHandle, err)
	}
	return ei, topic, nil
}

func popAnswer(op, addr, broker string, resp *remoting.Command) error {
	if resp.Code == remoting.Success {
		return nil
	}
	re := remoting.NewResponseError(remoting.CodeOutOfRange, addr, resp)
	re.Op, re.Broker = op, broker
	if resp.Code == remoting.NoMessage {
		return fmt.Errorf("consumer: %w: %w", ErrReceiptHandle, re)
	}
	return fmt.Errorf("consumer: %w", re)
}

// receiptTarget reads msg's receipt and finds the address of the broker
// that handed it out, for an ack or a change of invisible time.
func receiptTarget(ctx context.Context, cl *cluster, group, subTopic string, msg *message.MessageExt) (remoting.ExtraInfo, string, string, error) {
	ei, topic, err := receiptOf(group, msg)
	if err != nil {
		return ei, "", "", err
	}
	addr, err := cl.brokerAddr(ctx, ei.BrokerName, subTopic)
	return ei, topic, addr, err
}

// ackOne acknowledges one message with ACK_MESSAGE.
func ackOne(ctx context.Context, cl *cluster, group, subTopic string, msg *message.MessageExt) error {
	ei, topic, addr, err := receiptTarget(ctx, cl, group, subTopic, msg)
	if err != nil {
		return err
	}
	h := &remoting.AckMessageRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: ei.QueueID,
		ExtraInfo: ei.String(), Offset: ei.QueueOffset, BrokerName: ei.BrokerName}
	resp, err := cl.Invoke(ctx, addr, remoting.NewWideRequest(remoting.AckMessage, h, nil))
	if err != nil {
		return fmt.Errorf("consumer: ack: %w", err)
	}
	return popAnswer("ACK_MESSAGE", addr, ei.BrokerName, resp)
}

// maxBatchAckSpan bounds the offsets one bit set covers; messages further
// from their checkpoint's start are acknowledged one by one.
const maxBatchAckSpan = 64 << 10

// ackMany acknowledges msgs with one BATCH_ACK_MESSAGE per broker, so a
// batch costs one round trip instead of one per message. Messages the
// batch cannot carry, and every message when a broker does not know the
// request (an older broker), are acknowledged one by one. It returns the
// first error; the other messages are still tried.
func ackMany(ctx context.Context, cl *cluster, group, subTopic string, msgs []*message.MessageExt) error {
	type ckID struct {
		topic, retry string
		queueID      int32
		start, pt    int64
	}
	type brokerBatch struct {
		entries map[ckID]*wire.BatchAck
		order   []ckID
		msgs    []*message.MessageExt
	}
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	byBroker := map[string]*brokerBatch{}
	var brokers []string
	for _, m := range msgs {
		ei, _, err := receiptOf(group, m)
		if err != nil {
			keep(err)
			continue
		}
		span := ei.QueueOffset - ei.CkQueueOffset
		if span < 0 || span >= maxBatchAckSpan {
			keep(ackOne(ctx, cl, group, subTopic, m))
			continue
		}
		bb := byBroker[ei.BrokerName]
		if bb == nil {
			bb = &brokerBatch{entries: map[ckID]*wire.BatchAck{}}
			byBroker[ei.BrokerName] = bb
			brokers = append(brokers, ei.BrokerName)
		}
		id := ckID{topic: m.Topic, retry: ei.RetryMark, queueID: ei.QueueID, start: ei.CkQueueOffset, pt: ei.PopTime}
		e := bb.entries[id]
		if e == nil {
			e = &wire.BatchAck{Group: group, Topic: m.Topic, Retry: ei.RetryMark, StartOffset: ei.CkQueueOffset,
				QueueID: ei.QueueID, ReviveQid: ei.ReviveQid, PopTime: ei.PopTime, Invisible: ei.InvisibleTime}
			bb.entries[id] = e
			bb.order = append(bb.order, id)
		}
		for int64(len(e.BitSet)) <= span/8 {
			e.BitSet = append(e.BitSet, 0)
		}
		e.BitSet[span/8] |= 1 << (span % 8)
		bb.msgs = append(bb.msgs, m)
	}
	for _, name := range brokers {
		bb := byBroker[name]
		if len(bb.msgs) == 1 {
			keep(ackOne(ctx, cl, group, subTopic, bb.msgs[0]))
			continue
		}
		req := wire.BatchAckBody{BrokerName: name}
		for _, id := range bb.order {
			req.Acks = append(req.Acks, *bb.entries[id])
		}
		body, err := json.Marshal(&req)
		if err != nil {
			keep(fmt.Errorf("consumer: batch ack: %w", err))
			continue
		}
		addr, err := cl.brokerAddr(ctx, name, subTopic)
		if err != nil {
			keep(err)
			continue
		}
		resp, err := cl.Invoke(ctx, addr, remoting.NewWideRequest(remoting.BatchAckMessage, nil, body))
		if err != nil {
			keep(fmt.Errorf("consumer: batch ack: %w", err))
			continue
		}
		if resp.Code == remoting.RequestCodeNotSupported {
			for _, m := range bb.msgs {
				keep(ackOne(ctx, cl, group, subTopic, m))
			}
			continue
		}
		keep(popAnswer("BATCH_ACK_MESSAGE", addr, name, resp))
	}
	return firstErr
}

// changeInvisible sets msg's invisible time to d from now and gives it
// its new receipt handle.
func changeInvisible(ctx context.Context, cl *cluster, group, subTopic string, msg *message.MessageExt, d time.Duration) error {
	ei, topic, addr, err := receiptTarget(ctx, cl, group, subTopic, msg)
	if err != nil {
		return err
	}
	h := &remoting.ChangeInvisibleTimeRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: ei.QueueID,
		ExtraInfo: ei.String(), Offset: ei.QueueOffset, InvisibleTime: d.Milliseconds(), BrokerName: ei.BrokerName}
	resp, err := cl.Invoke(ctx, addr, remoting.NewWideRequest(remoting.ChangeMessageInvisibleTime, h, nil))
	if err != nil {
		return fmt.Errorf("consumer: change invisible duration: %w", err)
	}
	if err := popAnswer("CHANGE_MESSAGE_INVISIBLETIME", addr, ei.BrokerName, resp); err != nil {
		return err
	}
	var rh remoting.ChangeInvisibleTimeResponseHeader
	if err := resp.DecodeHeader(&rh); err != nil {
		return fmt.Errorf("consumer: change invisible duration: bad response header: %w", err)
	}
	// As upstream's client: the new checkpoint starts at the message.
	ei.CkQueueOffset, ei.PopTime, ei.InvisibleTime, ei.ReviveQid = ei.QueueOffset, rh.PopTime, rh.InvisibleTime, rh.ReviveQid
	msg.SetProperty(message.PropertyPopCK, ei.String())
	return nil
}
