package producer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// Request/reply errors; match them with errors.Is.
var (
	// ErrRequestTimeout: the request was sent but no reply arrived in
	// time. The error also matches context.DeadlineExceeded (or
	// context.Canceled when the caller's ctx was canceled).
	ErrRequestTimeout = errors.New("producer: no reply to request")
)

// Request sends msg as a request and waits for its reply, like Java's
// DefaultMQProducer.request(msg, timeout): it adds CORRELATION_ID (a random
// unique id), REPLY_TO_CLIENT (this producer's client id) and TTL (the
// timeout in milliseconds, as Java writes it) to a copy of msg, sends it
// synchronously, and returns the reply a consumer sent with message.NewReply
// once the broker pushed it to this client.
//
// The timeout is ctx's deadline, or the producer's send timeout (default
// 3 s, WithSendTimeout) when ctx has none; it covers the send and the wait.
// When it expires the error matches ErrRequestTimeout and
// context.DeadlineExceeded; a failed send returns the send's error, and
// Shutdown ends pending requests with ErrProducerClosed.
//
// The client does not set CLUSTER (neither does Java's): the broker adds it
// when it stores the request, and message.NewReply turns it into the reply
// topic. The broker that receives the reply pushes it over the connection
// on which this client heartbeated; a request to a topic whose route was
// not cached yet heartbeats at once (Java's prepareSendRequest does the
// same), so that connection exists before any reply can come back.
func (p *Producer) Request(ctx context.Context, msg *message.Message) (*message.MessageExt, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.inflight.Done()
	ctx, cancel := p.requestContext(ctx)
	defer cancel()
	pr, err := p.startRequest(ctx, msg)
	if err != nil {
		return nil, err
	}
	return pr.wait(ctx)
}

// RequestAsync is Request without waiting: cb is called exactly once, on a
// goroutine of its own, with the reply or the error Request would have
// returned. An error returned by RequestAsync itself (validation, closed
// producer) means cb will not be called. ctx bounds the request as for
// Request and must stay live until cb runs.
func (p *Producer) RequestAsync(ctx context.Context, msg *message.Message, cb func(*message.MessageExt, error)) error {
	if err := p.enter(); err != nil {
		return err
	}
	if msg == nil {
		p.inflight.Done()
		return ErrNoMessage
	}
	if err := msg.Validate(p.cfg.maxMessageSize); err != nil {
		p.inflight.Done()
		return fmt.Errorf("producer: %w", err)
	}
	if cb == nil {
		cb = func(*message.MessageExt, error) {}
	}
	go func() {
		// Shutdown waits for inflight, and fails the pending request
		// first, so this goroutine never outlives the producer.
		defer p.inflight.Done()
		ctx, cancel := p.requestContext(ctx)
		defer cancel()
		pr, err := p.startRequest(ctx, msg)
		var reply *message.MessageExt
		if err == nil {
			reply, err = pr.wait(ctx)
		}
		cb(reply, err)
	}()
	return nil
}

// requestContext bounds ctx by the send timeout when it has no deadline.
func (p *Producer) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, p.cfg.sendTimeout)
}

// startRequest registers the pending request and sends it.
func (p *Producer) startRequest(ctx context.Context, msg *message.Message) (*pendingRequest, error) {
	if msg == nil {
		return nil, ErrNoMessage
	}
	// Validate before the route lookup below, so a bad message reports
	// itself rather than as a route failure.
	if err := msg.Validate(p.cfg.maxMessageSize); err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	corr, err := newCorrelationID()
	if err != nil {
		return nil, fmt.Errorf("producer: correlation id: %w", err)
	}
	ttl := time.Until(deadlineOf(ctx))
	req := withProperty(msg, message.PropertyCorrelationID, corr)
	req.SetProperty(message.PropertyReplyToClient, p.cl.ClientID())
	req.SetProperty(message.PropertyMessageTTL, strconv.FormatInt(max(ttl.Milliseconds(), 1), 10))

	// The broker finds this client by its heartbeat; a producer that has
	// not heartbeated to the brokers of the topic yet (a new route) does so
	// now, as Java's prepareSendRequest, or the first reply could arrive
	// before the broker knows where to push it.
	if !p.cl.HasRoute(p.cl.Wrap(msg.Topic)) {
		if _, err := p.cl.PublishInfo(ctx, p.cl.Wrap(msg.Topic)); err != nil {
			return nil, fmt.Errorf("producer: route of %q: %w", msg.Topic, err)
		}
		if err := p.cl.SendHeartbeat(ctx); err != nil {
			p.cfg.logger.Debug("producer: heartbeat before request failed", "err", err)
		}
	}

	pr, err := p.replies.add(corr)
	if err != nil {
		return nil, err
	}
	st, err := p.prepare(ctx, ModeSync, []*message.Message{req}, false)
	if err == nil {
		var res *SendResult
		res, err = st.run()
		st.finish(res, err)
	}
	if err != nil {
		p.replies.remove(corr)
		return nil, err
	}
	return pr, nil
}

func deadlineOf(ctx context.Context) time.Time {
	dl, _ := ctx.Deadline()
	return dl
}

// newCorrelationID returns 32 random hex digits. Random rather than the
// unique-key generator: replies are matched across every producer of the
// client, and two generators of one process may produce the same key.
func newCorrelationID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// pendingRequest is one request waiting for its reply.
type pendingRequest struct {
	t     *replyTable
	corr  string
	reply chan *message.MessageExt // buffered: deliver never blocks
}

// wait returns the reply, or fails at ctx's end or at Shutdown. The entry
// leaves the table in every case, so a late reply finds nothing.
func (pr *pendingRequest) wait(ctx context.Context) (*message.MessageExt, error) {
	select {
	case m := <-pr.reply:
		return m, nil
	case <-ctx.Done():
		pr.t.remove(pr.corr)
		select {
		case m := <-pr.reply: // the reply won the race with the deadline
			return m, nil
		default:
		}
		return nil, fmt.Errorf("%w (correlation id %s): %w", ErrRequestTimeout, pr.corr, ctx.Err())
	case <-pr.t.done:
		pr.t.remove(pr.corr)
		return nil, ErrProducerClosed
	}
}

// replyTable holds a producer's pending requests by correlation id. It is
// owned by the producer (never shared between producers or packages), and
// the client's PUSH_REPLY_MESSAGE_TO_CLIENT handler completes entries
// through deliver.
type replyTable struct {
	mu         sync.Mutex
	pending    map[string]*pendingRequest
	closed     bool
	done       chan struct{} // closed by close
	unregister func()
}

func newReplyTable() *replyTable {
	return &replyTable{pending: make(map[string]*pendingRequest), done: make(chan struct{})}
}

func (t *replyTable) add(corr string) (*pendingRequest, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrProducerClosed
	}
	pr := &pendingRequest{t: t, corr: corr, reply: make(chan *message.MessageExt, 1)}
	t.pending[corr] = pr
	return pr, nil
}

func (t *replyTable) remove(corr string) {
	t.mu.Lock()
	delete(t.pending, corr)
	t.mu.Unlock()
}

// deliver completes the request the reply answers; it reports whether the
// reply was for this producer.
func (t *replyTable) deliver(reply *message.MessageExt) bool {
	corr, ok := reply.Property(message.PropertyCorrelationID)
	if !ok {
		return false
	}
	t.mu.Lock()
	pr := t.pending[corr]
	delete(t.pending, corr)
	t.mu.Unlock()
	if pr == nil {
		return false
	}
	pr.reply <- reply
	return true
}

// close fails every pending request and stops accepting new ones.
func (t *replyTable) close() {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.done)
	}
	unregister := t.unregister
	t.unregister = nil
	t.mu.Unlock()
	if unregister != nil {
		unregister()
	}
}
