package namesrv

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"

	"github.com/rocketgo/rocketgo/remoting"
)

// A handler answers one request. conn identifies the connection it came on
// (so a broker's registration can be dropped when that connection closes);
// handlers never block and never fail silently: every path returns a
// response, and a rejected request leaves every table unchanged.
type handler func(conn any, req *remoting.Command) *remoting.Command

// Topic system flags used by the unit-topic queries (upstream TopicSysFlag).
const (
	sysFlagUnit    int32 = 1 << 0
	sysFlagUnitSub int32 = 1 << 1
)

// handlers lists every request code the name server serves. Codes missing
// here are answered REQUEST_CODE_NOT_SUPPORTED by the transport.
func (s *Server) handlers() map[int16]handler {
	return map[int16]handler{
		remoting.PutKVConfig:                   s.putKVConfig,
		remoting.GetKVConfig:                   s.getKVConfig,
		remoting.DeleteKVConfig:                s.deleteKVConfig,
		remoting.GetKVListByNamespace:          s.getKVListByNamespace,
		remoting.RegisterBroker:                s.registerBroker,
		remoting.UnregisterBroker:              s.unregisterBroker,
		remoting.BrokerHeartbeat:               s.brokerHeartbeat,
		remoting.QueryDataVersion:              s.queryDataVersion,
		remoting.GetRouteInfoByTopic:           s.getRouteInfoByTopic,
		remoting.GetBrokerClusterInfo:          s.getBrokerClusterInfo,
		remoting.GetAllTopicListFromNameServer: s.getAllTopicList,
		remoting.GetTopicsByCluster:            s.getTopicsByCluster,
		remoting.DeleteTopicInNamesrv:          s.deleteTopicInNamesrv,
		remoting.GetSystemTopicListFromNS:      s.getSystemTopicList,
		remoting.GetUnitTopicList:              s.unitTopics(func(f int32) bool { return f&sysFlagUnit != 0 }),
		remoting.GetHasUnitSubTopicList:        s.unitTopics(func(f int32) bool { return f&sysFlagUnitSub != 0 }),
		remoting.GetHasUnitSubUnunitTopicList: s.unitTopics(func(f int32) bool {
			return f&sysFlagUnit == 0 && f&sysFlagUnitSub != 0
		}),
		remoting.GetNamesrvConfig:      s.getNamesrvConfig,
		remoting.WipeWritePermOfBroker: s.writePerm(false),
		remoting.AddWritePermOfBroker:  s.writePerm(true),
	}
}

func ok(req *remoting.Command) *remoting.Command {
	return remoting.NewResponse(req, remoting.Success, "")
}

func withBody(req *remoting.Command, body []byte) *remoting.Command {
	resp := ok(req)
	resp.Body = body
	return resp
}

// fail answers with code and remark and logs the rejection: a client that
// keeps sending bad requests should be visible to an operator.
func (s *Server) fail(req *remoting.Command, code int16, remark string) *remoting.Command {
	s.log.Warn("namesrv: request rejected", "code", req.Code, "response", code, "remark", remark)
	return remoting.NewResponse(req, code, remark)
}

// badHeader answers a header that does not decode. Java answers these with
// SYSTEM_ERROR (the header exception escapes the processor); so do we.
func (s *Server) badHeader(req *remoting.Command, err error) *remoting.Command {
	return s.fail(req, remoting.SystemError, err.Error())
}

// required answers INVALID_PARAMETER when one of the named values is empty;
// pairs are name, value. It returns nil when all are present.
func (s *Server) required(req *remoting.Command, pairs ...string) *remoting.Command {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return s.fail(req, remoting.InvalidParameter, "the header field <"+pairs[i]+"> must not be empty")
		}
	}
	return nil
}

// routableTopics drops, with a warning, the topics whose queue counts no
// client would accept in a route (wire.RoutableQueueNums): every client would
// build a queue entry per claimed queue, and ours refuse such routes, so
// the name server keeps them out of the routes it answers — for official
// clients too — rather than refuse the broker's whole registration.
func (s *Server) routableTopics(broker, addr string, topics []wire.TopicConfig) []wire.TopicConfig {
	kept := topics[:0]
	for _, tc := range topics {
		if !wire.RoutableQueueNums(tc.ReadQueueNums, tc.WriteQueueNums) {
			s.log.Warn("namesrv: topic not routed: more queues than a route may carry", "broker", broker, "addr", addr,
				"topic", tc.TopicName, "readQueueNums", tc.ReadQueueNums, "writeQueueNums", tc.WriteQueueNums, "max", wire.MaxQueueNums)
			continue
		}
		kept = append(kept, tc)
	}
	return kept
}

func (s *Server) registerBroker(conn any, req *remoting.Command) *remoting.Command {
	var h remoting.RegisterBrokerRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return s.badHeader(req, err)
	}
	if r := s.required(req, "brokerName", h.BrokerName, "brokerAddr", h.BrokerAddr, "clusterName", h.ClusterName); r != nil {
		return r
	}
	if err := wire.CheckBodyCRC(req.Body, h.BodyCrc32); err != nil {
		return s.fail(req, remoting.SystemError, err.Error())
	}
	body, err := wire.DecodeRegisterBody(req.Body, h.Compressed)
	if err != nil {
		return s.fail(req, remoting.SystemError, err.Error())
	}
	body.Topics = s.routableTopics(h.BrokerName, h.BrokerAddr, body.Topics)
	rr := registerRequest{
		ClusterName:        h.ClusterName,
		BrokerName:         h.BrokerName,
		BrokerAddr:         h.BrokerAddr,
		BrokerID:           h.BrokerID,
		HAServerAddr:       h.HaServerAddr,
		ZoneName:           h.ZoneName,
		EnableActingMaster: h.EnableActingMaster,
	}
	if h.HeartbeatTimeoutMillis > 0 {
		rr.HeartbeatTimeout = time.Duration(h.HeartbeatTimeoutMillis) * time.Millisecond
	}
	res := s.routes.register(rr, body, conn, s.cfg.now(), s.cfg.brokerTimeout)
	if res.rejected {
		s.log.Warn("namesrv: registration ignored: a broker with a newer state version holds the id", "cluster", h.ClusterName,
			"broker", h.BrokerName, "id", h.BrokerID, "addr", h.BrokerAddr, "stateVersion", body.DataVersion.StateVersion)
	}
	if res.first {
		s.log.Info("namesrv: broker registered", "cluster", h.ClusterName, "broker", h.BrokerName,
			"id", h.BrokerID, "addr", h.BrokerAddr, "topics", len(body.Topics))
	}
	if s.gate != nil && !res.rejected {
		if n := s.gate.openNow(); n > 0 {
			s.log.Info("namesrv: first broker registered, held client requests answered", "held", n)
		}
	}
	resp := ok(req)
	resp.SetHeader(&remoting.RegisterBrokerResponseHeader{HaServerAddr: res.HAServerAddr, MasterAddr: res.MasterAddr})
	if table, found := s.kv.table(NamespaceOrderTopicConfig); found {
		resp.Body = table
	}
	return resp
}

func (s *Server) unregisterBroker(_ any, req *remoting.Command) *remoting.Command {
	var h remoting.UnregisterBrokerRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return s.badHeader(req, err)
	}
	if s.routes.unregister(h.ClusterName, h.BrokerName, h.BrokerAddr, h.BrokerID) {
		s.log.Info("namesrv: broker unregistered", "cluster", h.ClusterName, "broker", h.BrokerName, "addr", h.BrokerAddr)
	}
	return ok(req)
}

func (s *Server) brokerHeartbeat(_ any, req *remoting.Command) *remoting.Command {
	var h remoting.BrokerHeartbeatRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return s.badHeader(req, err)
	}
	s.routes.touch(h.ClusterName, h.BrokerAddr, s.cfg.now())
	return ok(req)
}

func (s *Server) queryDataVersion(_ any, req *remoting.Command) *remoting.Command {
	var h remoting.QueryDataVersionRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return s.badHeader(req, err)
	}
	var dv wire.DataVersion
	if len(req.Body) > 0 {
		if err := json.Unmarshal(req.Body, &dv); err != nil {
			return s.fail(req, remoting.SystemError, "malformed data version: "+err.Error())
		}
	}
	changed, stored := s.routes.queryDataVersion(h.ClusterName, h.BrokerAddr, dv, s.cfg.now())
	resp := ok(req)
	resp.SetHeader(&remoting.QueryDataVersionResponseHeader{Changed: changed})
	if stored != nil {
		resp.Body, _ = json.Marshal(stored)
	}
	return resp
}

func (s *Server) orderTopicConf(topic string) string {
	v, _ := s.kv.get(NamespaceOrderTopicConfig, topic)
	return v
}

func (s *Server) getRouteInfoByTopic(_ any, req *remoting.Command) *remoting.Command {
	// Only the topic matters: we always answer standard JSON, whatever the
	// requester's version or acceptStandardJsonOnly say (upstream RouteInfoManager answers the
	// bare-integer-key form only to old requesters; every client parses ours).
	topic, found := req.Ext.Get("topic")
	if !found {
		return s.badHeader(req, &FieldError{Field: "topic", Err: ErrMissingField})
	}
	body, found := s.routes.route(topic, s.orderTopicConf)
	if !found {
		// Routine for producers (they fall back to TBW102), so not logged.
		return remoting.NewResponse(req, remoting.TopicNotExist, "no route info of topic "+strconv.Quote(topic)+" in this name server")
	}
	return withBody(req, body)
}

func (s *Server) getBrokerClusterInfo(_ any, req *remoting.Command) *remoting.Command {
	return withBody(req, s.routes.clusterInfo())
}

func (s *Server) getAllTopicList(_ any, req *remoting.Command) *remoting.Command {
	return withBody(req, appendTopicListJSON(nil, s.routes.topicList(), ""))
}

func (s *Server) getTopicsByCluster(_ any, req *remoting.Command) *remoting.Command {
	var h remoting.GetTopicsByClusterRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return s.badHeader(req, err)
	}
	return withBody(req, appendTopicListJSON(nil, s.routes.topicsByCluster(h.Cluster), ""))
}

func (s *Server) getSystemTopicList(_ any, req *remoting.Command) *remoting.Command {
	topics, addr := s.routes.systemTopics()
	return withBody(req, appendTopicListJSON(nil, topics, addr))
}

func (s *Server) unitTopics(match func(int32) bool) handler {
	return func(_ any, req *remoting.Command) *remoting.Command {
		return withBody(req, appendTopicListJSON(nil, s.routes.topicsWithSysFlag(match), ""))
	}
}

func (s *Server) deleteTopicInNamesrv(_ any, req *remoting.Command) *remoting.Command {
	var h remoting.DeleteTopicInNamesrvRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return s.badHeader(req, err)
	}
	if s.routes.deleteTopic(h.Topic, h.ClusterName) {
		s.log.Info("namesrv: topic deleted", "topic", h.Topic, "cluster", h.ClusterName)
	}
	return ok(req)
}

// writePerm serves WIPE_WRITE_PERM_OF_BROKER (add=false) and
// ADD_WRITE_PERM_OF_BROKER (add=true); the answer counts the topics touched.
func (s *Server) writePerm(add bool) handler {
	countKey := "wipeTopicCount"
	if add {
		countKey = "addTopicCount"
	}
	return func(_ any, req *remoting.Command) *remoting.Command {
		name, found := req.Ext.Get("brokerName")
		if !found {
			return s.badHeader(req, &FieldError{Field: "brokerName", Err: ErrMissingField})
		}
		n := s.routes.setWritePerm(name, add)
		s.log.Info("namesrv: broker write permission changed", "broker", name, "writable", add, "topics", n)
		resp := ok(req)
		resp.Ext.SetInt(countKey, int64(n))
		return resp
	}
}

func (s *Server) putKVConfig(_ any, req *remoting.Command) *remoting.Command {
	var h remoting.PutKVConfigRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return s.badHeader(req, err)
	}
	if r := s.required(req, "namespace", h.Namespace, "key", h.Key); r != nil {
		return r
	}
	err := s.kv.put(h.Namespace, h.Key, h.Value)
	if h.Namespace == NamespaceOrderTopicConfig {
		s.routes.invalidate() // orderTopicConf is part of cached routes
	}
	if err != nil {
		return remoting.NewResponse(req, remoting.SystemError, err.Error())
	}
	return ok(req)
}

func (s *Server) getKVConfig(_ any, req *remoting.Command) *remoting.Command {
	var h remoting.GetKVConfigRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return s.badHeader(req, err)
	}
	v, found := s.kv.get(h.Namespace, h.Key)
	if !found {
		return remoting.NewResponse(req, remoting.QueryNotFound, "no config item, namespace "+strconv.Quote(h.Namespace)+" key "+strconv.Quote(h.Key))
	}
	resp := ok(req)
	resp.SetHeader(&remoting.GetKVConfigResponseHeader{Value: v})
	return resp
}

func (s *Server) deleteKVConfig(_ any, req *remoting.Command) *remoting.Command {
	var h remoting.DeleteKVConfigRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return s.badHeader(req, err)
	}
	existed, err := s.kv.delete(h.Namespace, h.Key)
	if existed && h.Namespace == NamespaceOrderTopicConfig {
		s.routes.invalidate()
	}
	if err != nil {
		return remoting.NewResponse(req, remoting.SystemError, err.Error())
	}
	return ok(req)
}

func (s *Server) getKVListByNamespace(_ any, req *remoting.Command) *remoting.Command {
	ns, found := req.Ext.Get("namespace")
	if !found {
		return s.badHeader(req, &FieldError{Field: "namespace", Err: ErrMissingField})
	}
	body, found := s.kv.table(ns)
	if !found {
		return remoting.NewResponse(req, remoting.QueryNotFound, "no config item, namespace "+strconv.Quote(ns))
	}
	return withBody(req, body)
}
