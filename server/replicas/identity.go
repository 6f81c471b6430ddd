package replicas

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rocketgo/rocketgo/internal/atomicfile"
)

// A broker keeps the id the controller assigned it in brokerIdentity.json
// under its store root, as upstream's BrokerMetadata. While it negotiates
// the id it keeps the candidate and its check code in a temporary file, so
// a crash between the controller's "yes" and the final file cannot leave
// it with an id it does not know it owns (upstream's persistent unique
// broker id design).

// identity is brokerIdentity.json and its temporary sibling.
type identity struct {
	ClusterName       string `json:"clusterName"`
	BrokerName        string `json:"brokerName"`
	BrokerID          int64  `json:"brokerId"`
	RegisterCheckCode string `json:"registerCheckCode,omitempty"` // temporary file only
}

type identityFiles struct{ final, temp string }

func newIdentityFiles(dir string) identityFiles {
	p := filepath.Join(dir, "brokerIdentity.json")
	return identityFiles{final: p, temp: p + ".temp"}
}

func readIdentity(path string) (identity, bool, error) {
	var id identity
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return id, false, nil
	}
	if err != nil {
		return id, false, fmt.Errorf("replicas: %w", err)
	}
	if err := json.Unmarshal(b, &id); err != nil || id.BrokerID < 1 {
		return id, false, fmt.Errorf("replicas: %s is damaged (%v); delete it to register again", path, err)
	}
	return id, true, nil
}

func writeIdentity(path string, id identity) error {
	b, err := json.Marshal(id)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}

func removeFile(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return
	}
}
