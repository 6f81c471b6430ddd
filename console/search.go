package console

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"time"

	"github.com/rocketgo/rocketgo/admin"
	"github.com/rocketgo/rocketgo/message"
)

// messagesByTime finds up to max messages of topic stored in [begin, end):
// per queue a binary search over its offsets (store times grow with the
// offset) finds the first message at or after begin, then the queue is read
// forward until end. It needs O(log n + max) lookups per queue, each a
// QUERY_CONSUME_QUEUE plus a VIEW_MESSAGE_BY_ID, all through admin.
func messagesByTime(ctx context.Context, be Backend, topic string, begin, end time.Time, max int) (out []*message.MessageExt, truncated bool, err error) {
	queues, err := be.TopicStatus(ctx, topic)
	if err != nil {
		return nil, false, err
	}
	b, e := begin.UnixMilli(), end.UnixMilli()
	for _, q := range queues {
		if q.MaxOffset <= q.MinOffset || (q.LastUpdate > 0 && q.LastUpdate < b) {
			continue
		}
		at := func(off int64) (*message.MessageExt, error) {
			return be.MessageAtOffset(ctx, topic, q.Broker, q.QueueID, off)
		}
		// Smallest offset in [lo, hi) whose message is stored at or after b;
		// offsets whose message is gone (expired, unreadable) count as older.
		lo, hi := q.MinOffset, q.MaxOffset
		for lo < hi {
			mid := lo + (hi-lo)/2
			m, err := at(mid)
			if err != nil && !errors.Is(err, admin.ErrMessageNotFound) {
				return nil, false, err
			}
			if m != nil && m.StoreTimestamp >= b {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		for off, n := lo, 0; off < q.MaxOffset; off++ {
			if n == max {
				truncated = true
				break
			}
			m, err := at(off)
			if errors.Is(err, admin.ErrMessageNotFound) {
				continue
			}
			if err != nil {
				return nil, false, err
			}
			if m.StoreTimestamp >= e {
				break
			}
			out = append(out, m)
			n++
		}
	}
	slices.SortStableFunc(out, func(x, y *message.MessageExt) int {
		switch {
		case x.StoreTimestamp < y.StoreTimestamp:
			return -1
		case x.StoreTimestamp > y.StoreTimestamp:
			return 1
		}
		return 0
	})
	if len(out) > max {
		out, truncated = out[:max], true
	}
	return out, truncated, nil
}

func urlPathEscape(s string) string { return url.PathEscape(s) }

func encodeQuery(v map[string][]string) string { return url.Values(v).Encode() }
