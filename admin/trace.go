package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/rocketgo/rocketgo/trace"
)

// MessageTrace returns the trace records of the message whose client id
// (UNIQ_KEY, what producers return as the message id) is msgID, found in
// traceTopic (trace.DefaultTopic when ""), oldest first: the send (Pub),
// each delivery (SubBefore/SubAfter) and the transaction's end. It is
// mqadmin's queryMsgTraceById. The error wraps ErrMessageNotFound and
// trace.ErrNoTrace when the trace topic holds no record of msgID; records
// found next to a malformed trace message come with an error naming it.
func (c *Client) MessageTrace(ctx context.Context, msgID, traceTopic string) ([]trace.Record, error) {
	if msgID == "" {
		return nil, fmt.Errorf("admin: message trace: empty message id")
	}
	recs, err := trace.Query(ctx, c.cl, traceTopic, msgID)
	if len(recs) == 0 && errors.Is(err, trace.ErrNoTrace) {
		return nil, fmt.Errorf("%w: %w", ErrMessageNotFound, err)
	}
	return recs, err
}
