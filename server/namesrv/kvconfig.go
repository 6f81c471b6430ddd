package namesrv

import "sync"

// NamespaceOrderTopicConfig is the KV namespace whose entries map an ordered
// topic to "brokerName:queueNums;..." and become a route's orderTopicConf.
const NamespaceOrderTopicConfig = "ORDER_TOPIC_CONFIG"

// kvStore is the name server's namespaced configuration table
// (PUT/GET/DELETE_KV_CONFIG). It lives in memory only: upstream persists it
// to kvConfig.json, which this server does not (yet) do.
type kvStore struct {
	mu sync.RWMutex
	ns map[string]map[string]string
}

func newKVStore() *kvStore { return &kvStore{ns: make(map[string]map[string]string)} }

func (s *kvStore) put(namespace, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ns[namespace]
	if t == nil {
		t = make(map[string]string)
		s.ns[namespace] = t
	}
	t[key] = value
}

func (s *kvStore) get(namespace, key string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.ns[namespace][key]
	return v, ok
}

// delete reports whether the key existed.
func (s *kvStore) delete(namespace, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ns[namespace]
	if _, ok := t[key]; !ok {
		return false
	}
	delete(t, key)
	if len(t) == 0 {
		delete(s.ns, namespace)
	}
	return true
}

// table encodes a namespace as a KVTable body; ok is false when the
// namespace holds nothing.
func (s *kvStore) table(namespace string) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.ns[namespace]
	if len(t) == 0 {
		return nil, false
	}
	return appendKVTableJSON(make([]byte, 0, 64), t), true
}
