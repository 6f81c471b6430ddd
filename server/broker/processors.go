package broker

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// registerProcessors binds every request code the broker serves. Codes not
// listed get REQUEST_CODE_NOT_SUPPORTED from the transport.
func (b *Broker) registerProcessors() {
	s := b.server
	s.HandleInline(remoting.SendMessage, b.processSend)
	s.HandleInline(remoting.SendMessageV2, b.processSend)
	s.HandleInline(remoting.SendBatchMessage, b.processSend)
	s.Handle(remoting.RecallMessage, b.processRecall)
	s.Handle(remoting.SendReplyMessage, b.processReply)
	s.Handle(remoting.SendReplyMessageV2, b.processReply)
	s.Handle(remoting.PullMessage, b.processPull)
	s.Handle(remoting.ConsumerSendMsgBack, b.processSendBack)
	s.Handle(remoting.EndTransaction, b.processEndTransaction)
	s.HandleInline(remoting.LockBatchMQ, b.processLockBatch) // in arrival order: see inlineLockBody
	s.HandleInline(remoting.UnlockBatchMQ, b.processUnlockBatch)
	s.Handle(remoting.QueryMessage, b.processQueryMessage)
	s.Handle(remoting.ViewMessageByID, b.processViewMessage)

	s.Handle(remoting.HeartBeat, b.processHeartbeat)
	s.Handle(remoting.UnregisterClient, b.processUnregisterClient)
	s.Handle(remoting.GetConsumerListByGroup, b.processConsumerList)

	// Offset commits and queries run on the connection's event loop, in
	// the order they arrived: the official clients commit one way and
	// never wait, so on the workers two commits of one queue could be
	// applied newest first and move the group back (its consumers would
	// get those messages again), and a query could overtake the commits
	// sent before it. Both only touch in-memory tables.
	s.HandleInline(remoting.QueryConsumerOffset, b.processQueryConsumerOffset)
	s.HandleInline(remoting.UpdateConsumerOffset, b.processUpdateConsumerOffset)
	s.Handle(remoting.GetMaxOffset, b.processGetMaxOffset)
	s.Handle(remoting.GetMinOffset, b.processGetMinOffset)
	s.Handle(remoting.SearchOffsetByTimestamp, b.processSearchOffset)
	s.Handle(remoting.GetEarliestMsgStoretime, b.processEarliestStoreTime)

	s.Handle(remoting.UpdateAndCreateTopic, b.processCreateTopic)
	s.Handle(remoting.DeleteTopicInBroker, b.processDeleteTopic)
	s.Handle(remoting.GetAllTopicConfig, b.processGetAllTopicConfig)
	s.Handle(remoting.UpdateAndCreateSubscriptionGroup, b.processUpdateGroup)
	s.Handle(remoting.GetAllSubscriptionGroupConfig, b.processGetAllGroups)
	s.Handle(remoting.DeleteSubscriptionGroup, b.processDeleteGroup)
	s.Handle(remoting.InvokeBrokerToResetOffset, b.processResetOffset)
	s.Handle(remoting.GetConsumerConnectionList, b.processConsumerConnections)
	s.Handle(remoting.GetConsumeStats, b.processConsumeStats)
	s.Handle(remoting.GetConsumerRunningInfo, b.processForwardToConsumer)
	s.Handle(remoting.ConsumeMessageDirectly, b.processForwardToConsumer)
	s.Handle(remoting.GetBrokerRuntimeInfo, b.processRuntimeInfo)
	s.Handle(remoting.GetTopicStatsInfo, b.processTopicStats)
	s.Handle(remoting.GetProducerConnectionList, b.processProducerConnections)
	s.Handle(remoting.GetBrokerConsumeStats, b.processBrokerConsumeStats)
	s.Handle(remoting.QueryTopicConsumeByWho, b.processTopicConsumedBy)
	s.Handle(remoting.QueryConsumeQueue, b.processQueryConsumeQueue)
	s.Handle(remoting.CloneGroupOffset, b.processCloneGroupOffset)
	s.Handle(remoting.InvokeBrokerToGetConsumerStatus, b.processGetConsumerStatus)
	s.Handle(remoting.GetBrokerConfig, b.processGetBrokerConfig)
	s.Handle(remoting.UpdateBrokerConfig, b.processUpdateBrokerConfig)
	s.Handle(remoting.GetAllConsumerOffset, b.processGetAllConsumerOffset)
	s.Handle(remoting.GetAllDelayOffset, b.processGetAllDelayOffset)
	s.Handle(remoting.GetTimerCheckPoint, b.processGetTimerCheckPoint)
	s.Handle(remoting.CheckClientConfig, b.processCheckClientConfig)

	// 5.x POP consumption (server/pop); codes beyond int16.
	s.HandleWide(remoting.PopMessage, b.pop.ProcessPop)
	s.HandleWide(remoting.AckMessage, b.pop.ProcessAck)
	s.HandleWide(remoting.BatchAckMessage, b.pop.ProcessBatchAck)
	s.HandleWide(remoting.ChangeMessageInvisibleTime, b.pop.ProcessChangeInvisibleTime)
	s.HandleWide(remoting.PeekMessage, b.pop.ProcessPeek)
	s.HandleWide(remoting.Notification, b.pop.ProcessNotification)
	s.HandleWide(remoting.PollingInfo, b.pop.ProcessPollingInfo)
}

// reply answers req with code and remark. Replies to oneway requests are
// dropped by the transport.
func reply(rc *transport.RequestContext, req *remoting.Command, code int16, remark string) {
	rc.Reply(remoting.NewResponse(req, code, remark))
}

// replyHeader answers SUCCESS with a header and optional body.
func replyHeader(rc *transport.RequestContext, req *remoting.Command, h remoting.Header, body []byte) {
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.SetHeader(h)
	resp.Body = body
	rc.Reply(resp)
}

// replyJSON answers SUCCESS with v as the JSON body.
func (b *Broker) replyJSON(rc *transport.RequestContext, req *remoting.Command, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		reply(rc, req, remoting.SystemError, "encode reply: "+err.Error())
		return
	}
	replyHeader(rc, req, nil, body)
}

// decodeHeader decodes req's header into h, answering the request with an
// error when that fails. It reports whether the caller should go on.
func decodeHeader(rc *transport.RequestContext, req *remoting.Command, h remoting.HeaderDecoder) bool {
	if err := req.DecodeHeader(h); err != nil {
		reply(rc, req, remoting.InvalidParameter, fmt.Sprintf("bad request header: %v", err))
		return false
	}
	return true
}

// errorCode maps broker errors onto response codes.
func errorCode(err error) int16 {
	switch {
	case errors.Is(err, ErrInvalidTopic):
		return remoting.InvalidParameter
	case errors.Is(err, ErrTopicNotExist):
		return remoting.TopicNotExist
	case errors.Is(err, ErrGroupNotExist):
		return remoting.SubscriptionGroupNotExist
	}
	return remoting.SystemError
}

func (b *Broker) processHeartbeat(rc *transport.RequestContext, req *remoting.Command) {
	if b.shedStale(rc, req, b.cfg.WaitTimeMillsInHeartbeatQueue) {
		return
	}
	hb, err := wire.DecodeHeartbeat(req.Body)
	if err != nil {
		reply(rc, req, remoting.SystemError, err.Error())
		return
	}
	conn, now := rc.Conn(), b.clock()
	for _, pd := range hb.ProducerDataSet {
		if pd.GroupName != "" {
			b.producers.Register(pd.GroupName, conn, hb.ClientID, req.Language.String(), req.Version, now)
		}
	}
	for i := range hb.ConsumerDataSet {
		cd := &hb.ConsumerDataSet[i]
		gcfg, err := b.groups.Find(cd.GroupName)
		if err != nil {
			b.log.Warn("heartbeat for unknown consumer group", "group", cd.GroupName, "client", hb.ClientID, "err", err)
			continue
		}
		// A slave's topic table is its master's copy; the master creates
		// the retry topic on the heartbeat the client sends it.
		if !b.isSlave() {
			if _, created, err := b.topics.CreateIfAbsent(RetryTopic(cd.GroupName), max(gcfg.RetryQueueNums, 1), PermRead|PermWrite, 0); err != nil {
				b.log.Warn("creating retry topic failed", "group", cd.GroupName, "err", err)
			} else if created {
				b.requestRegister()
			}
		}
		if changed, _ := b.consumers.Register(conn, hb.ClientID, req.Language.String(), req.Version, cd, now); changed {
			b.notifyConsumerIDsChanged(cd.GroupName)
		}
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Ext.Set("IS_SUPPORT_HEART_BEAT_V2", "false")
	rc.Reply(resp)
}

func (b *Broker) processUnregisterClient(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.UnregisterClientRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	if h.ProducerGroup != "" {
		b.producers.Unregister(h.ProducerGroup, rc.Conn())
	}
	if h.ConsumerGroup != "" && b.consumers.Unregister(h.ConsumerGroup, rc.Conn()) {
		b.notifyConsumerIDsChanged(h.ConsumerGroup)
	}
	reply(rc, req, remoting.Success, "")
}

func (b *Broker) processConsumerList(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.ConsumerGroupHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	ids := b.consumers.ClientIDs(h.ConsumerGroup)
	if len(ids) == 0 {
		reply(rc, req, remoting.SystemError, "no consumer for group "+h.ConsumerGroup)
		return
	}
	b.replyJSON(rc, req, wire.ConsumerListBody{ConsumerIDList: ids})
}
