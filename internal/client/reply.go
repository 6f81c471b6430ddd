package client

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

// ReplyHandler receives a reply the broker pushed to this client
// (PUSH_REPLY_MESSAGE_TO_CLIENT, 326). It reports whether the reply was
// for it, i.e. whether it was waiting for the reply's CORRELATION_ID. It
// runs on the transport's handler goroutine and must not block.
type ReplyHandler func(reply *message.MessageExt) bool

// replyRouter hands pushed replies to the producers of this client. The
// broker addresses a reply to a client id, not to a producer group, so
// every requesting producer registers a handler and the one that owns the
// correlation id takes it. Its zero value is ready to use.
type replyRouter struct {
	mu       sync.RWMutex
	next     uint64
	handlers map[uint64]ReplyHandler
}

// RegisterReplyHandler adds h to the handlers of pushed replies and returns
// the function that removes it again.
func (c *Client) RegisterReplyHandler(h ReplyHandler) (unregister func()) {
	r := &c.replies
	r.mu.Lock()
	if r.handlers == nil {
		r.handlers = make(map[uint64]ReplyHandler)
	}
	r.next++
	id := r.next
	r.handlers[id] = h
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.handlers, id)
		r.mu.Unlock()
	}
}

// deliver offers reply to each handler until one takes it.
func (r *replyRouter) deliver(reply *message.MessageExt) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, h := range r.handlers {
		if h(reply) {
			return true
		}
	}
	return false
}

// pushReply serves PUSH_REPLY_MESSAGE_TO_CLIENT. Like upstream's
// ClientRemotingProcessor.receiveReplyMessage it answers SUCCESS even when
// no request is waiting (it timed out, or the process restarted): the reply
// did arrive, and an error would only make the replier retry in vain.
func (c *Client) pushReply(_ context.Context, addr string, req *remoting.Command) *remoting.Command {
	arrived := time.Now().UnixMilli()
	var h remoting.ReplyMessageRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		c.logger.Warn("client: bad reply push header", "addr", addr, "err", err)
		return c.refuse(req, remoting.SystemError, "process reply message fail: "+err.Error())
	}
	body := req.Body
	if h.SysFlag&message.SysFlagCompressed != 0 {
		t, err := message.CompressionTypeOf(h.SysFlag)
		if err == nil {
			body, err = message.DecompressWith(t, req.Body, 0)
		}
		if err != nil {
			c.logger.Warn("client: cannot inflate a pushed reply", "addr", addr, "err", err)
			return c.refuse(req, remoting.SystemError, "process reply message fail: "+err.Error())
		}
	}
	reply := message.NewMessageExt(h.Topic, body, h.Properties)
	reply.QueueID = h.QueueID
	reply.Flag = h.Flag
	reply.SysFlag = h.SysFlag
	reply.BornTimestamp = h.BornTimestamp
	reply.StoreTimestamp = h.StoreTimestamp
	reply.ReconsumeTimes = h.ReconsumeTimes
	reply.BornHost = parseAddrPort(h.BornHost)
	reply.StoreHost = parseAddrPort(h.StoreHost)
	reply.SetProperty(message.PropertyReplyArriveTime, strconv.FormatInt(arrived, 10))
	if !c.replies.deliver(reply) {
		corr, _ := reply.Property(message.PropertyCorrelationID)
		c.logger.Debug("client: reply matches no pending request", "correlationId", corr, "addr", addr)
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// parseAddrPort reads "ip:port" as well as Java's InetSocketAddress text
// ("/ip:port" or "host/ip:port"); anything else gives the zero value.
func parseAddrPort(s string) netip.AddrPort {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// HasRoute reports whether a route for topic is cached. A requester that
// must first fetch one also heartbeats at once (as Java's
// prepareSendRequest), so the brokers of that route can push replies to it.
func (c *Client) HasRoute(topic string) bool { return c.routes.get(topic) != nil }
