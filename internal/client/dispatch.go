package client

import (
	"context"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

// registerHandlers installs the broker → client request handlers on the
// transport. Each finds the group the request concerns and hands the
// request to what registered it.
func (c *Client) registerHandlers() {
	byGroup := func(group func(*remoting.Command) (string, error)) netclient.RequestHandler {
		return func(ctx context.Context, addr string, req *remoting.Command) *remoting.Command {
			g, err := group(req)
			if err != nil {
				return c.refuse(req, remoting.SystemError, "bad header: "+err.Error())
			}
			c.regMu.RLock()
			h := c.consumers[g]
			c.regMu.RUnlock()
			if h == nil {
				c.logger.Debug("client: request for unknown consumer group", "code", req.Code, "group", g, "addr", addr)
				return c.refuse(req, remoting.SystemError, "consumer group "+g+" not registered on "+c.id)
			}
			return h.HandleRequest(ctx, addr, req)
		}
	}
	consumerGroup := func(req *remoting.Command) (string, error) {
		var h remoting.ConsumerGroupHeader
		err := req.DecodeHeader(&h)
		return h.ConsumerGroup, err
	}
	c.rc.RegisterHandler(remoting.NotifyConsumerIDsChanged, byGroup(consumerGroup))
	c.rc.RegisterHandler(remoting.GetConsumerRunningInfo, byGroup(consumerGroup))
	c.rc.RegisterHandler(remoting.ConsumeMessageDirectly, byGroup(consumerGroup))
	c.rc.RegisterHandler(remoting.ResetConsumerClientOffset, byGroup(func(req *remoting.Command) (string, error) {
		var h remoting.ResetOffsetRequestHeader
		err := req.DecodeHeader(&h)
		return h.Group, err
	}))
	c.rc.RegisterHandler(remoting.GetConsumerStatusFromClient, byGroup(func(req *remoting.Command) (string, error) {
		var h remoting.GetConsumerStatusRequestHeader
		err := req.DecodeHeader(&h)
		return h.Group, err
	}))
	c.rc.RegisterHandler(remoting.CheckTransactionState, c.checkTransaction)
	// Replies are addressed to the client id, not a group: see replyRouter.
	c.rc.RegisterHandler(remoting.PushReplyMessageToClient, c.pushReply)
	c.rc.RegisterHandler(remoting.NotifyMinBrokerIDChange, c.masterChanged)
}

// masterChanged handles NOTIFY_MIN_BROKER_ID_CHANGE, which a controller-mode
// broker sends on a role change: re-read the routes now so sends and pulls
// reach the new master without waiting for the 30 s poll.
func (c *Client) masterChanged(_ context.Context, addr string, req *remoting.Command) *remoting.Command {
	var h remoting.NotifyMinBrokerIDChangeHeader
	if err := req.DecodeHeader(&h); err != nil {
		c.logger.Debug("client: bad master-change notice", "addr", addr, "err", err)
		return nil
	}
	c.logger.Info("client: broker announced a new master", "broker", h.BrokerName, "master", h.MinBrokerAddr, "from", addr)
	c.RefreshSoon()
	return nil
}

// refuse answers a request that cannot be served (nothing for oneway ones).
func (c *Client) refuse(req *remoting.Command, code int16, remark string) *remoting.Command {
	if req.IsOneway() {
		return nil
	}
	return remoting.NewResponse(req, code, remark)
}

// checkTransaction routes CHECK_TRANSACTION_STATE by the PGROUP property of
// the half message in the body: the header does not name the group.
func (c *Client) checkTransaction(ctx context.Context, addr string, req *remoting.Command) *remoting.Command {
	var h remoting.CheckTransactionStateRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		c.logger.Warn("client: bad transaction check header", "addr", addr, "err", err)
		return nil
	}
	msgs, err := message.DecodeMessages(req.Body)
	if err != nil || len(msgs) == 0 {
		c.logger.Warn("client: bad transaction check body", "addr", addr, "err", err)
		return nil
	}
	msg := msgs[0]
	group, _ := msg.Property(message.PropertyProducerGroup)
	c.regMu.RLock()
	checker, ok := c.producers[group]
	c.regMu.RUnlock()
	if !ok || checker == nil {
		c.logger.Warn("client: transaction check for a group without checker", "group", group, "addr", addr)
		return nil
	}
	checker.CheckTransactionState(ctx, addr, &h, msg)
	return nil
}
