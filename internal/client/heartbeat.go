package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TriggerHeartbeat asks the heartbeat loop to send one soon, without
// waiting. Requests coalesce: many triggers before the loop wakes send one
// heartbeat.
func (c *Client) TriggerHeartbeat() {
	select {
	case c.hbNow <- struct{}{}:
	default:
	}
}

// heartbeatData builds the one HeartbeatData that carries every registered
// group; ok is false when nothing is registered.
func (c *Client) heartbeatData() (hb wire.HeartbeatData, hasConsumers, ok bool) {
	ps, cs := c.registrations()
	hb = wire.HeartbeatData{ClientID: c.id, ProducerDataSet: ps, ConsumerDataSet: make([]wire.ConsumerData, 0, len(cs))}
	for _, h := range cs {
		hb.ConsumerDataSet = append(hb.ConsumerDataSet, h.ConsumerData())
	}
	return hb, len(cs) > 0, len(ps)+len(cs) > 0
}

// SendHeartbeat sends one heartbeat now to every broker of the cached
// routes — masters only when only producers are registered, every address
// when there are consumers, as upstream MQClientInstance does — and waits for the answers.
// It returns the joined failures; with nothing registered it does nothing.
func (c *Client) SendHeartbeat(ctx context.Context) error {
	if c.isClosed.Load() {
		return ErrClosed
	}
	hb, hasConsumers, ok := c.heartbeatData()
	if !ok {
		return nil
	}
	body, err := json.Marshal(&hb)
	if err != nil {
		return fmt.Errorf("client: encode heartbeat: %w", err)
	}
	addrs := c.routes.brokerAddrs(!hasConsumers)
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Invoke(ctx, addr, remoting.NewRequest(remoting.HeartBeat, nil, body))
			switch {
			case err != nil:
				errs[i] = err
			case resp.Code != remoting.Success:
				errs[i] = remoting.NewResponseError(remoting.HeartBeat, addr, resp)
			}
		}()
	}
	wg.Wait()
	err = errors.Join(errs...)
	if err != nil {
		c.logger.Debug("client: heartbeat failed", "err", err)
	}
	return err
}

func (c *Client) heartbeatLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.hbNow:
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.requestTimeout)
		_ = c.SendHeartbeat(ctx)
		cancel()
	}
}
