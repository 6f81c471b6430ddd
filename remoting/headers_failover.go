package remoting

// NotifyMinBrokerIDChangeHeader is NOTIFY_MIN_BROKER_ID_CHANGE (905):
// upstream sends it from name server to brokers when the lowest broker id
// of a group changes; rocketgo brokers also send it, oneway, to their
// connected clients when a controller-mode role change makes another
// broker the master (minBrokerId 0), so clients refresh routes at once.
type NotifyMinBrokerIDChangeHeader struct {
	MinBrokerID       int64
	BrokerName        string
	MinBrokerAddr     string
	OfflineBrokerAddr string // optional: the broker that stopped being master
	HABrokerAddr      string // optional
}

func (h *NotifyMinBrokerIDChangeHeader) EncodeExt(e *ExtFields) {
	e.SetInt("minBrokerId", h.MinBrokerID)
	e.Set("brokerName", h.BrokerName)
	e.Set("minBrokerAddr", h.MinBrokerAddr)
	setOpt(e, "offlineBrokerAddr", h.OfflineBrokerAddr)
	setOpt(e, "haBrokerAddr", h.HABrokerAddr)
}

func (h *NotifyMinBrokerIDChangeHeader) DecodeExt(e *ExtFields) error {
	r := extReader{e: e}
	h.MinBrokerID = r.optI64("minBrokerId", 0)
	h.BrokerName = r.str("brokerName")
	h.MinBrokerAddr = r.optStr("minBrokerAddr")
	h.OfflineBrokerAddr = r.optStr("offlineBrokerAddr")
	h.HABrokerAddr = r.optStr("haBrokerAddr")
	return r.err
}
