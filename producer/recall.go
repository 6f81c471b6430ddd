package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

// ErrRecallUnsupported: RecallMessage was given a retry or dead-letter
// topic, whose messages cannot be recalled (upstream's client refuses them
// before asking a broker).
var ErrRecallUnsupported = errors.New("producer: recall is not supported for retry and dead-letter topics")

// RecallMessage cancels a timer message that is not delivered yet
// (RECALL_MESSAGE, RocketMQ 5.3.1+): handle is the SendResult.RecallHandle
// of its send, topic the topic it was sent to. It returns the recalled
// message's id (its unique key, SendResult.MsgID).
//
// The broker group the handle names answers, as upstream:
//   - a malformed handle, a handle of another topic or broker, and a handle
//     whose delivery time has passed — the message was delivered already —
//     are refused with ILLEGAL_OPERATION (errors.Is(err,
//     remoting.ErrIllegalOperation)); a handle that does not parse is
//     refused here already (message.ErrInvalidRecallHandle);
//   - a broker with recall switched off (recallMessageEnable=false, the
//     Java broker's default) answers NO_PERMISSION, one older than 5.3.1
//     REQUEST_CODE_NOT_SUPPORTED;
//   - a well-formed handle whose time is ahead succeeds even if the broker
//     holds no such message: a recall names a message, it does not look
//     it up.
//
// A recall is not retried on another broker: only the one in the handle
// holds the message.
func (p *Producer) RecallMessage(ctx context.Context, topic, handle string) (string, error) {
	if err := p.enter(); err != nil {
		return "", err
	}
	defer p.inflight.Done()
	if err := message.ValidateTopic(topic); err != nil {
		return "", fmt.Errorf("producer: recall: %w", err)
	}
	if strings.HasPrefix(topic, "%RETRY%") || strings.HasPrefix(topic, "%DLQ%") {
		return "", ErrRecallUnsupported
	}
	h, err := message.ParseRecallHandle(handle)
	if err != nil {
		return "", fmt.Errorf("producer: recall: %w", err)
	}
	wrapped := p.cl.Wrap(topic)
	if _, err := p.cl.PublishInfo(ctx, wrapped); err != nil {
		return "", fmt.Errorf("producer: recall: route of %q: %w", wrapped, err)
	}
	addr := p.cl.MasterAddr(h.BrokerName)
	if addr == "" {
		return "", fmt.Errorf("producer: recall: %w: no master of broker %q in the route of %q", ErrNoRoute, h.BrokerName, wrapped)
	}
	req := remoting.NewRequest(remoting.RecallMessage, &remoting.RecallMessageRequestHeader{
		ProducerGroup: p.group, Topic: wrapped, RecallHandle: handle, BrokerName: h.BrokerName,
	}, nil)
	resp, err := p.cl.Invoke(ctx, addr, req)
	if err != nil {
		return "", fmt.Errorf("producer: recall at %s (%s): %w", h.BrokerName, addr, err)
	}
	if resp.Code != remoting.Success {
		return "", &remoting.ResponseError{Op: "RECALL_MESSAGE", Addr: addr, Broker: h.BrokerName, Code: resp.Code, Remark: resp.Remark}
	}
	var rh remoting.RecallMessageResponseHeader
	if err := resp.DecodeHeader(&rh); err != nil {
		return "", fmt.Errorf("producer: recall answer from %s: %w", addr, err)
	}
	return rh.MsgID, nil
}
