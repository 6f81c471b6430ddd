package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rocketgo/rocketgo/internal/atomicfile"
)

// jsonFile persists one broker table as JSON. A write goes to a temporary
// file that is synced and renamed over the old one, and the previous
// version is kept as .bak, so a crash mid-write never leaves a torn table:
// load falls back to the backup when the main file is unreadable.
type jsonFile struct {
	path string
}

func newJSONFile(dir, name string) *jsonFile {
	return &jsonFile{path: filepath.Join(dir, name)}
}

// load decodes the file into v. found is false when neither the file nor
// its backup exists.
func (f *jsonFile) load(v any) (found bool, err error) {
	for _, p := range []string{f.path, f.path + ".bak"} {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("broker: read %s: %w", p, err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			if p == f.path {
				continue // torn or hand-edited: try the backup
			}
			return false, fmt.Errorf("broker: parse %s: %w", p, err)
		}
		return true, nil
	}
	if _, err := os.Stat(f.path); err == nil {
		return false, fmt.Errorf("broker: %s is corrupt and has no usable backup", f.path)
	}
	return false, nil
}

func (f *jsonFile) store(v any) error {
	data, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return fmt.Errorf("broker: encode %s: %w", f.path, err)
	}
	if _, err := os.Stat(f.path); err == nil {
		// Keep the previous version: load falls back to it.
		if err := os.Rename(f.path, f.path+".bak"); err != nil {
			return fmt.Errorf("broker: back up %s: %w", f.path, err)
		}
	}
	if err := atomicfile.Write(f.path, data, 0o644); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}
