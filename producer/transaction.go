package producer

import (
	"context"
	"fmt"

	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/remoting"
)

// LocalTransactionState is the outcome of a local transaction.
type LocalTransactionState int

// Local transaction outcomes. Unknown leaves the half message to the
// broker's check-back.
const (
	CommitMessage LocalTransactionState = iota + 1
	RollbackMessage
	Unknown
)

func (s LocalTransactionState) String() string {
	switch s {
	case CommitMessage:
		return "COMMIT_MESSAGE"
	case RollbackMessage:
		return "ROLLBACK_MESSAGE"
	case Unknown:
		return "UNKNOW"
	}
	return "LocalTransactionState(" + fmt.Sprint(int(s)) + ")"
}

// wire returns the END_TRANSACTION commitOrRollback value.
func (s LocalTransactionState) wire() int32 {
	switch s {
	case CommitMessage:
		return remoting.TransactionCommit
	case RollbackMessage:
		return remoting.TransactionRollback
	}
	return remoting.TransactionNotType
}

// TransactionListener runs the local side of transactional messages.
// ExecuteLocalTransaction runs right after the half message is stored;
// CheckLocalTransaction answers the broker when a half message stays
// unresolved (Unknown, or the END_TRANSACTION was lost). Both must be safe
// for concurrent use; a panic counts as Unknown.
type TransactionListener interface {
	ExecuteLocalTransaction(ctx context.Context, msg *message.Message, arg any) LocalTransactionState
	CheckLocalTransaction(ctx context.Context, msg *message.MessageExt) LocalTransactionState
}

// TransactionSendResult is the half message's send result plus the local
// transaction's outcome.
type TransactionSendResult struct {
	SendResult
	State LocalTransactionState
}

// SendMessageInTransaction sends msg as a half message (invisible to
// consumers), runs the listener's ExecuteLocalTransaction with arg, and
// commits or rolls back the message accordingly. If the half message is
// not stored with SEND_OK the local transaction is not run and the message
// is rolled back. A failed END_TRANSACTION is logged, not returned: the
// broker's check-back resolves the message later.
func (p *Producer) SendMessageInTransaction(ctx context.Context, msg *message.Message, arg any) (*TransactionSendResult, error) {
	if p.cfg.txListener == nil {
		return nil, ErrNotTransactional
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.inflight.Done()
	if msg != nil && msg.DelayLevel > 0 {
		return nil, fmt.Errorf("producer: transactional message: %w", ErrBatchDelay)
	}
	st, err := p.prepare(ctx, ModeTransaction, []*message.Message{msg}, true)
	if err != nil {
		return nil, err
	}
	res, err := st.run()
	st.finish(res, err)
	if err != nil {
		return nil, err
	}
	state := RollbackMessage
	if res.Status == SendOK {
		state = p.execute(ctx, msg, arg)
	}
	p.endTransaction(ctx, p.cl.MasterAddr(res.Queue.BrokerName), &remoting.EndTransactionRequestHeader{
		ProducerGroup:        p.group,
		TranStateTableOffset: res.QueueOffset,
		CommitOrRollback:     state.wire(),
		MsgID:                res.MsgID,
		TransactionID:        transactionID(res.TransactionID, res.MsgID),
		Topic:                st.topic,
		BrokerName:           res.Queue.BrokerName,
	}, res.OffsetMsgID)
	if p.tracer != nil {
		p.tracer.endTransaction(res.RegionID, p.group, st.topic, res.MsgID, transactionID(res.TransactionID, res.MsgID),
			msg.Tags, msg.Keys, state, p.tracer.storeHost(res), false)
	}
	return &TransactionSendResult{SendResult: *res, State: state}, nil
}

func transactionID(id, fallback string) string {
	if id != "" {
		return id
	}
	return fallback
}

func (p *Producer) execute(ctx context.Context, msg *message.Message, arg any) (state LocalTransactionState) {
	defer func() {
		if r := recover(); r != nil {
			p.cfg.logger.Error("producer: local transaction panicked", "panic", r)
			state = Unknown
		}
	}()
	return p.cfg.txListener.ExecuteLocalTransaction(ctx, msg, arg)
}

// endTransaction sends END_TRANSACTION (oneway, as every client does).
// offsetMsgID carries the half message's commit-log offset.
func (p *Producer) endTransaction(ctx context.Context, addr string, h *remoting.EndTransactionRequestHeader, offsetMsgID string) {
	if offsetMsgID != "" {
		if _, off, err := message.ParseOffsetMsgID(offsetMsgID); err == nil {
			h.CommitLogOffset = off
		}
	}
	if addr == "" {
		p.cfg.logger.Warn("producer: no broker address for END_TRANSACTION", "msgId", h.MsgID)
		return
	}
	if err := p.cl.InvokeOneway(ctx, addr, remoting.NewRequest(remoting.EndTransaction, h, nil)); err != nil {
		p.cfg.logger.Warn("producer: END_TRANSACTION failed; the broker will check back", "addr", addr, "msgId", h.MsgID, "err", err)
	}
}

// txChecker answers CHECK_TRANSACTION_STATE for the producer's group.
type txChecker struct{ p *Producer }

func (c txChecker) CheckTransactionState(ctx context.Context, addr string, h *remoting.CheckTransactionStateRequestHeader, msg *message.MessageExt) {
	p := c.p
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return
	}
	p.checks.Add(1)
	p.mu.RUnlock()
	defer p.checks.Done()

	state := func() (s LocalTransactionState) {
		defer func() {
			if r := recover(); r != nil {
				p.cfg.logger.Error("producer: transaction check panicked", "panic", r)
				s = Unknown
			}
		}()
		return p.cfg.txListener.CheckLocalTransaction(ctx, msg)
	}()
	uniq := msg.UniqKey()
	if uniq == "" {
		uniq = h.MsgID
	}
	ectx, cancel := context.WithTimeout(ctx, p.cl.RequestTimeout())
	defer cancel()
	p.endTransaction(ectx, addr, &remoting.EndTransactionRequestHeader{
		ProducerGroup:        p.group,
		TranStateTableOffset: h.TranStateTableOffset,
		CommitLogOffset:      h.CommitLogOffset,
		CommitOrRollback:     state.wire(),
		FromTransactionCheck: true,
		MsgID:                uniq,
		TransactionID:        transactionID(h.TransactionID, uniq),
		Topic:                msg.Topic,
		BrokerName:           h.BrokerName,
	}, "")
	if p.tracer != nil {
		region, _ := msg.Property(message.PropertyMsgRegion)
		p.tracer.endTransaction(region, p.group, msg.Topic, uniq, transactionID(h.TransactionID, uniq),
			msg.Tags(), msg.Keys(), state, msg.StoreHost.String(), true)
	}
}
