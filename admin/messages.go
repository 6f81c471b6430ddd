package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

// MessageByID fetches the message whose offset message id (the broker's
// store host and commit-log offset, as SendResult.OffsetMsgID) is id
// (VIEW_MESSAGE_BY_ID on that broker).
func (c *Client) MessageByID(ctx context.Context, id string) (*message.MessageExt, error) {
	host, offset, err := message.ParseOffsetMsgID(id)
	if err != nil {
		return nil, fmt.Errorf("admin: message id %q: %w", id, err)
	}
	return c.messageAt(ctx, host.String(), offset)
}

func (c *Client) messageAt(ctx context.Context, addr string, offset int64) (*message.MessageExt, error) {
	req := remoting.NewRequest(remoting.ViewMessageByID, &remoting.ViewMessageByIDRequestHeader{Offset: offset}, nil)
	resp, err := c.call(ctx, addr, req)
	if err != nil {
		return nil, fmt.Errorf("admin: message at %s@%d: %w", addr, offset, err)
	}
	msgs, err := message.DecodeMessages(resp.Body, message.WithCopyInput(true))
	if err != nil {
		return nil, fmt.Errorf("%w: message at %s@%d: %v", ErrMalformed, addr, offset, err)
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%w: at %s@%d", ErrMessageNotFound, addr, offset)
	}
	return msgs[0], nil
}

// KeyQuery narrows a message query. Zero times mean "from the beginning" /
// "until now"; zero Max means 64 (upstream's default).
type KeyQuery struct {
	Begin, End time.Time
	Max        int
}

// MessagesByKey finds topic's messages carrying key in their KEYS property
// through every master's index (QUERY_MESSAGE), newest last.
func (c *Client) MessagesByKey(ctx context.Context, topic, key string, q KeyQuery) ([]*message.MessageExt, error) {
	return c.query(ctx, topic, key, q, false)
}

// MessagesByUniqueKey finds topic's messages whose client-assigned unique
// id (UNIQ_KEY, what producers return as the message id) is key.
func (c *Client) MessagesByUniqueKey(ctx context.Context, topic, key string) ([]*message.MessageExt, error) {
	return c.query(ctx, topic, key, KeyQuery{}, true)
}

func (c *Client) query(ctx context.Context, topic, key string, q KeyQuery, unique bool) ([]*message.MessageExt, error) {
	if q.Max <= 0 {
		q.Max = 64
	}
	end := q.End
	if end.IsZero() {
		end = time.Now().Add(time.Minute)
	}
	r, err := c.Route(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []*message.MessageExt
	var errs []error
	for _, bd := range r.BrokerDatas {
		addr := bd.SelectAddr()
		if addr == "" {
			continue
		}
		h := &remoting.QueryMessageRequestHeader{Topic: topic, Key: key, MaxNum: int32(q.Max),
			BeginTimestamp: q.Begin.UnixMilli(), EndTimestamp: end.UnixMilli(), UniqueKeyQuery: unique}
		if q.Begin.IsZero() {
			h.BeginTimestamp = 0
		}
		resp, err := c.call(ctx, addr, remoting.NewRequest(remoting.QueryMessage, h, nil), remoting.QueryNotFound)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.Code == remoting.QueryNotFound {
			continue
		}
		msgs, err := message.DecodeMessages(resp.Body, message.WithCopyInput(true))
		if err != nil {
			return nil, fmt.Errorf("%w: query %s: %v", ErrMalformed, key, err)
		}
		for _, m := range msgs {
			m.BrokerName = bd.BrokerName
			if unique {
				if id, _ := m.Property(message.PropertyUniqKey); id != key {
					continue
				}
			}
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		if len(errs) > 0 {
			return nil, fmt.Errorf("admin: query %s in %s: %w", key, topic, errors.Join(errs...))
		}
		return nil, fmt.Errorf("%w: key %s in %s", ErrMessageNotFound, key, topic)
	}
	// Messages stored in the same millisecond keep their commit-log order
	// (the index answers newest first).
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.StoreTimestamp != b.StoreTimestamp {
			return a.StoreTimestamp < b.StoreTimestamp
		}
		if a.BrokerName != b.BrokerName {
			return a.BrokerName < b.BrokerName
		}
		return a.CommitLogOffset < b.CommitLogOffset
	})
	if len(out) > q.Max {
		out = out[len(out)-q.Max:]
	}
	return out, nil
}

// MessageAtOffset fetches the message at offset of queue queueID of topic
// on broker brokerName: the queue entry (QUERY_CONSUME_QUEUE) gives its
// commit-log position, which VIEW_MESSAGE_BY_ID reads.
func (c *Client) MessageAtOffset(ctx context.Context, topic, brokerName string, queueID int32, offset int64) (*message.MessageExt, error) {
	r, err := c.Route(ctx, topic)
	if err != nil {
		return nil, err
	}
	bd := r.Broker(brokerName)
	if bd == nil {
		return nil, fmt.Errorf("%w: %s does not route %s", ErrBrokerNotFound, brokerName, topic)
	}
	addr := bd.SelectAddr()
	h := &remoting.QueryConsumeQueueRequestHeader{Topic: topic, QueueID: queueID, Index: offset, Count: 1}
	resp, err := c.call(ctx, addr, remoting.NewRequest(remoting.QueryConsumeQueue, h, nil))
	if err != nil {
		return nil, fmt.Errorf("admin: %s queue %d offset %d: %w", topic, queueID, offset, err)
	}
	var body struct {
		QueueData []struct {
			PhysicOffset int64 `json:"physicOffset"`
		} `json:"queueData"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return nil, fmt.Errorf("%w: consume queue: %v", ErrMalformed, err)
	}
	if len(body.QueueData) == 0 {
		return nil, fmt.Errorf("%w: %s queue %d offset %d", ErrMessageNotFound, topic, queueID, offset)
	}
	m, err := c.messageAt(ctx, addr, body.QueueData[0].PhysicOffset)
	if err != nil {
		return nil, err
	}
	m.BrokerName = brokerName
	return m, nil
}
