package acl

import (
	"github.com/rocketgo/rocketgo/auth"
	"github.com/rocketgo/rocketgo/remoting"
)

// nameServerWrite reports the name-server requests that change what every
// client sees: broker (un)registration, KV configuration, topic deletion,
// write permission of brokers and the server's own configuration. Route
// and cluster reads stay open, because clients of a cluster with ACL on
// need them before they can do anything, and upstream's clients do not
// all sign them.
func nameServerWrite(code int16) bool {
	switch code {
	case remoting.RegisterBroker, remoting.UnregisterBroker, remoting.PutKVConfig, remoting.DeleteKVConfig,
		remoting.DeleteTopicInNamesrv, remoting.WipeWritePermOfBroker, remoting.AddWritePermOfBroker,
		remoting.UpdateNamesrvConfig:
		return true
	}
	return false
}

// CheckNameServer decides a request to a name server: writes (see
// nameServerWrite) need a white-listed address or a correctly signed
// request of an admin account; everything else passes.
func (c *Checker) CheckNameServer(remoteAddr string, req *remoting.Command) error {
	if !nameServerWrite(req.Code) {
		return nil
	}
	r := c.rules.Load()
	host := hostOf(remoteAddr)
	if err := r.check(host, req); err != nil {
		return err
	}
	// check passes admin codes of the broker's table only; every name
	// server write is an admin operation.
	if r.whiteListed(host, req) {
		return nil
	}
	ak, _ := req.Ext.Get(auth.FieldAccessKey)
	if acc := r.accounts[ak]; acc == nil || !acc.admin {
		return deny("Need admin permission for request code=%s, but accessKey=%s is not admin", codeString(req.Code), ak)
	}
	return nil
}

// whiteListed reports whether check let req through on an address white
// list (global, or its account's) rather than on a signature.
func (r *Rules) whiteListed(host string, req *remoting.Command) bool {
	for i := range r.global {
		if r.global[i].match(host) {
			return true
		}
	}
	ak, _ := req.Ext.Get(auth.FieldAccessKey)
	acc := r.accounts[ak]
	return acc != nil && acc.hasWhite && acc.white.match(host)
}
