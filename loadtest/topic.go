package loadtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/internal/nsclient"
	"github.com/rocketgo/rocketgo/remoting"
)

// Topic administration the tool (and the conformance suite) needs against
// any cluster: create a topic on every master, wait until the name servers
// route it, delete it again. It speaks raw remoting so it works with brokers
// whose auto-create is off and needs nothing from the SDK.

// ErrTopicAdmin wraps a broker's or name server's refusal of a topic
// command.
var ErrTopicAdmin = errors.New("loadtest: topic admin")

// CreateTopic creates topic with queues read and write queues on every
// master broker the name servers at namesrv know, then waits until the name
// servers route it.
//
// opts configure the transport (netclient.WithTLS, WithRequestSigner for a
// cluster with ACL on, where the request needs an admin account).
func CreateTopic(ctx context.Context, namesrv, topic string, queues int, opts ...netclient.Option) error {
	return withNameServers(namesrv, opts, func(rc *netclient.Client, ns *nsclient.Client) error {
		masters, err := masterAddrs(ctx, ns)
		if err != nil {
			return err
		}
		for _, addr := range masters {
			h := &remoting.CreateTopicRequestHeader{
				Topic: topic, DefaultTopic: "TBW102",
				ReadQueueNums: int32(queues), WriteQueueNums: int32(queues),
				Perm: 6, TopicFilterType: "SINGLE_TAG",
			}
			if err := invoke(ctx, rc, addr, remoting.NewRequest(remoting.UpdateAndCreateTopic, h, nil)); err != nil {
				return fmt.Errorf("create topic %s on %s: %w", topic, addr, err)
			}
		}
		_, err = ns.WaitRoute(ctx, topic)
		return err
	})
}

// withNameServers runs f with a transport and a name-server client for
// namesrv that live as long as the call.
func withNameServers(namesrv string, opts []netclient.Option, f func(*netclient.Client, *nsclient.Client) error) error {
	rc := netclient.New(opts...)
	defer rc.Close()
	ns, err := nsclient.New(rc, namesrv)
	if err != nil {
		return fmt.Errorf("loadtest: name servers %q: %w", namesrv, err)
	}
	return f(rc, ns)
}

// DeleteTopic deletes topic from every master and from the name servers.
// Cleanup is best effort: every step is tried and the errors are joined.
// opts are CreateTopic's.
func DeleteTopic(ctx context.Context, namesrv, topic string, opts ...netclient.Option) error {
	return withNameServers(namesrv, opts, func(rc *netclient.Client, ns *nsclient.Client) error {
		masters, err := masterAddrs(ctx, ns)
		if err != nil {
			return err
		}
		var errs []error
		for _, addr := range masters {
			req := remoting.NewRequest(remoting.DeleteTopicInBroker, &remoting.DeleteTopicRequestHeader{Topic: topic}, nil)
			errs = append(errs, invoke(ctx, rc, addr, req))
		}
		for _, addr := range ns.Addrs() {
			req := remoting.NewRequest(remoting.DeleteTopicInNamesrv, &remoting.DeleteTopicInNamesrvRequestHeader{Topic: topic}, nil)
			errs = append(errs, invoke(ctx, rc, addr, req))
		}
		return errors.Join(errs...)
	})
}

// WaitRoute polls the name servers until they route topic or ctx ends.
// opts are CreateTopic's.
func WaitRoute(ctx context.Context, namesrv, topic string, opts ...netclient.Option) error {
	return withNameServers(namesrv, opts, func(_ *netclient.Client, ns *nsclient.Client) error {
		_, err := ns.WaitRoute(ctx, topic)
		return err
	})
}

// TopicQueues returns the number of write queues the name servers route
// for topic, over all brokers; remoting.ErrTopicNotExist when they route
// none.
func TopicQueues(ctx context.Context, namesrv, topic string, opts ...netclient.Option) (int, error) {
	var n int
	err := withNameServers(namesrv, opts, func(_ *netclient.Client, ns *nsclient.Client) error {
		route, err := ns.Route(ctx, topic)
		if err != nil {
			return err
		}
		for _, q := range route.QueueDatas {
			n += int(q.WriteQueueNums)
		}
		return nil
	})
	return n, err
}

// masterAddrs lists the master address of every broker group in the
// cluster info.
func masterAddrs(ctx context.Context, ns *nsclient.Client) ([]string, error) {
	info, err := ns.ClusterInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("loadtest: cluster info: %w", err)
	}
	var addrs []string
	for _, b := range info.BrokerAddrTable {
		if a := b.MasterAddr(); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: the name servers know no master broker", ErrTopicAdmin)
	}
	return addrs, nil
}

func invoke(ctx context.Context, rc *netclient.Client, addr string, req *remoting.Command) error {
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := rc.InvokeSync(rctx, addr, req)
	if err != nil {
		return err
	}
	if resp.Code != remoting.Success {
		return fmt.Errorf("%w: %s answered code %d: %s", ErrTopicAdmin, addr, resp.Code, resp.Remark)
	}
	return nil
}
