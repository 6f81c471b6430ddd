package broker

import (
	"strconv"

	"github.com/rocketgo/rocketgo/server/transport"

	"github.com/rocketgo/rocketgo/remoting"
)

// maxQueryMessages caps one QUERY_MESSAGE answer, as upstream's
// defaultQueryMaxNum does.
const maxQueryMessages = 32

// processQueryMessage serves QUERY_MESSAGE: messages of a topic whose KEYS
// (or UNIQ_KEY) hold key, stored within a time range, found via the index.
func (b *Broker) processQueryMessage(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.QueryMessageRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	maxNum := min(max(int(h.MaxNum), 1), maxQueryMessages)
	if h.UniqueKeyQuery {
		maxNum = 1
	}
	res, err := b.store.QueryByKey(h.Topic, h.Key, maxNum, h.BeginTimestamp, h.EndTimestamp)
	if err != nil {
		reply(rc, req, remoting.SystemError, err.Error())
		return
	}
	defer res.Release()
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.SetHeader(&remoting.QueryMessageResponseHeader{
		IndexLastUpdateTimestamp: res.IndexLastUpdateTimestamp,
		IndexLastUpdatePhyoffset: res.IndexLastUpdatePhyOffset,
	})
	if res.MsgCount == 0 {
		resp.Code, resp.Remark = remoting.QueryNotFound, "can not find message, maybe time range not correct"
		rc.Reply(resp)
		return
	}
	body := make([]byte, 0, res.BufferTotalSize)
	for _, buf := range res.Buffers {
		body = append(body, buf...)
	}
	resp.Body = body
	rc.Reply(resp)
}

// processViewMessage serves VIEW_MESSAGE_BY_ID: the record at a commit-log
// offset (the offset message id carries it).
func (b *Broker) processViewMessage(rc *transport.RequestContext, req *remoting.Command) {
	var h remoting.ViewMessageByIDRequestHeader
	if !decodeHeader(rc, req, &h) {
		return
	}
	res, err := b.store.MessageAt(h.Offset)
	if err != nil || res.MsgCount == 0 {
		if res != nil {
			res.Release()
		}
		reply(rc, req, remoting.SystemError, "can not find message by the offset, "+strconv.FormatInt(h.Offset, 10))
		return
	}
	body := append([]byte(nil), res.Buffers[0]...)
	res.Release()
	replyHeader(rc, req, nil, body)
}
