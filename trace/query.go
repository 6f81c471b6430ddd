package trace

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rocketgo/rocketgo/client"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// QueryMaxMessages is how many trace messages Query asks each broker for,
// as upstream's queryMsgTraceById does (brokers may cap it lower).
const QueryMaxMessages = 64

// ErrNoTrace: the trace topic holds no record of the message.
var ErrNoTrace = errors.New("trace: no trace records for the message")

// Query returns the trace records of message msgID (its client id,
// UNIQ_KEY) found in topic (DefaultTopic when ""), written by any client:
// it asks every broker of topic's route for the trace messages keyed by
// msgID (QUERY_MESSAGE through the broker's index), decodes them and keeps
// the records of msgID, ordered by timestamp. Records are found as long
// as the broker's index and the trace topic keep them (72 h by default).
// The error wraps ErrNoTrace when no record is found; a malformed record
// is skipped and reported in the error alongside the others' records.
func Query(ctx context.Context, cl *client.Client, topic, msgID string) ([]Record, error) {
	if topic == "" {
		topic = DefaultTopic
	}
	resp, _, err := cl.NameServerRequest(ctx, remoting.NewRequest(remoting.GetRouteInfoByTopic,
		&remoting.GetRouteInfoRequestHeader{Topic: topic}, nil))
	if err != nil {
		return nil, fmt.Errorf("trace: route of %s: %w", topic, err)
	}
	if resp.Code != remoting.Success {
		return nil, fmt.Errorf("trace: route of %s: %w", topic, remoting.NewResponseError(remoting.GetRouteInfoByTopic, "", resp))
	}
	route, err := wire.ParseTopicRoute(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("trace: route of %s: %w", topic, err)
	}
	var (
		out  []Record
		errs []error
		end  = time.Now().Add(time.Minute).UnixMilli() // a little clock skew
	)
	for i := range route.BrokerDatas {
		addr := route.BrokerDatas[i].SelectAddr()
		if addr == "" {
			continue
		}
		req := remoting.NewRequest(remoting.QueryMessage, &remoting.QueryMessageRequestHeader{
			Topic: topic, Key: msgID, MaxNum: QueryMaxMessages, BeginTimestamp: 0, EndTimestamp: end,
		}, nil)
		resp, err := cl.Request(ctx, addr, req)
		if err != nil {
			errs = append(errs, fmt.Errorf("trace: query %s: %w", addr, err))
			continue
		}
		switch resp.Code {
		case remoting.Success:
		case remoting.QueryNotFound:
			continue
		default:
			errs = append(errs, fmt.Errorf("trace: query %s: %w", addr, remoting.NewResponseError(remoting.QueryMessage, addr, resp)))
			continue
		}
		msgs, err := message.DecodeMessages(resp.Body)
		if err != nil {
			errs = append(errs, fmt.Errorf("trace: query %s: %w", addr, err))
		}
		for _, m := range msgs {
			if m.Topic != topic {
				continue // an index hash collision with another topic
			}
			recs, err := Decode(m.Body)
			if err != nil {
				errs = append(errs, fmt.Errorf("trace: message %s: %w", m.MsgID, err))
			}
			for _, r := range recs {
				if r.MsgID == msgID {
					out = append(out, r)
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Record) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
	if len(out) == 0 {
		errs = append(errs, fmt.Errorf("%w %s in %s", ErrNoTrace, msgID, topic))
	}
	return out, errors.Join(errs...)
}
