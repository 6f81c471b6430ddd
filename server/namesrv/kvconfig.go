package namesrv

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/rocketgo/rocketgo/internal/atomicfile"
)

// NamespaceOrderTopicConfig is the KV namespace whose entries map an ordered
// topic to "brokerName:queueNums;..." and become a route's orderTopicConf.
const NamespaceOrderTopicConfig = "ORDER_TOPIC_CONFIG"

// kvStore is the name server's namespaced configuration table
// (PUT/GET/DELETE_KV_CONFIG). With a path it is persisted like upstream's
// kvConfig.json ({"configTable":{namespace:{key:value}}}): written to a
// temporary file, synced and renamed after every change, so a crash keeps
// either the old table or the new one. Without a path it lives in memory.
type kvStore struct {
	path string
	mu   sync.RWMutex
	ns   map[string]map[string]string
}

type kvFile struct {
	ConfigTable map[string]map[string]string `json:"configTable"`
}

func newKVStore() *kvStore { return &kvStore{ns: make(map[string]map[string]string)} }

// openKVStore loads the table persisted at path (an absent file is an
// empty table).
func openKVStore(path string) (*kvStore, error) {
	s := newKVStore()
	s.path = path
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("namesrv: read KV config: %w", err)
	}
	var f kvFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("namesrv: parse KV config %s: %w", path, err)
	}
	for ns, t := range f.ConfigTable {
		if len(t) > 0 {
			s.ns[ns] = t
		}
	}
	return s, nil
}

// saveLocked persists the table; the caller holds mu.
func (s *kvStore) saveLocked() error {
	if s.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(kvFile{ConfigTable: s.ns}, "", "\t")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.path, data, 0o644); err != nil {
		return fmt.Errorf("namesrv: save KV config: %w", err)
	}
	return nil
}

func (s *kvStore) put(namespace, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ns[namespace]
	if t == nil {
		t = make(map[string]string)
		s.ns[namespace] = t
	}
	t[key] = value
	return s.saveLocked()
}

func (s *kvStore) get(namespace, key string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.ns[namespace][key]
	return v, ok
}

// delete reports whether the key existed.
func (s *kvStore) delete(namespace, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ns[namespace]
	if _, ok := t[key]; !ok {
		return false, nil
	}
	delete(t, key)
	if len(t) == 0 {
		delete(s.ns, namespace)
	}
	return true, s.saveLocked()
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
