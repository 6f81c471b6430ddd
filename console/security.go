package console

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
)

const csrfCookie = "rocketgo_csrf"

type csrfKey struct{}

// withCSRF makes sure the browser holds a CSRF cookie and puts its value
// into the request context for the forms the page renders.
func withCSRF(w http.ResponseWriter, r *http.Request) *http.Request {
	tok := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) == 43 {
		tok = ck.Value
	} else {
		var b [32]byte
		rand.Read(b[:])
		tok = base64.RawURLEncoding.EncodeToString(b[:])
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		// A request that arrived without the cookie cannot present it.
		r.Header.Del("Cookie")
	}
	return r.WithContext(context.WithValue(r.Context(), csrfKey{}, tok))
}

func csrfToken(r *http.Request) string {
	s, _ := r.Context().Value(csrfKey{}).(string)
	return s
}

// checkCSRF accepts a state-changing request only when its form field
// matches the cookie (another site can make the browser send the cookie
// but cannot read it) and, when the browser names an Origin, that origin
// is this host.
func checkCSRF(r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return errors.New("cross-origin request refused")
		}
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return errors.New("cross-site request refused")
	}
	ck, err := r.Cookie(csrfCookie)
	if err != nil {
		return errors.New("missing CSRF cookie: reload the page")
	}
	form := r.PostFormValue("csrf")
	if form == "" || subtle.ConstantTimeCompare([]byte(form), []byte(ck.Value)) != 1 {
		return errors.New("bad CSRF token: reload the page")
	}
	return nil
}

// Users holds basic-auth accounts: user name to SHA-256 of the password.
type Users map[string][32]byte

// Check reports whether user exists and pass is its password; it takes
// the same time for unknown users as for wrong passwords.
func (u Users) Check(user, pass string) bool {
	want, ok := u[user]
	sum := sha256.Sum256([]byte(pass))
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1 && ok
}

// LoadUsers reads a users file: one "user:password" or
// "user:sha256:HEX" per line, '#' starting comments. Keep it readable by
// the console's owner only.
func LoadUsers(path string) (Users, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("console: users file: %w", err)
	}
	defer f.Close()
	users := Users{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, secret, ok := strings.Cut(line, ":")
		if !ok || name == "" || secret == "" {
			return nil, fmt.Errorf("console: users file %s:%d: want user:password", path, n)
		}
		if h, ok := strings.CutPrefix(secret, "sha256:"); ok {
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != 32 {
				return nil, fmt.Errorf("console: users file %s:%d: bad sha256 hex", path, n)
			}
			users[name] = [32]byte(b)
			continue
		}
		users[name] = sha256.Sum256([]byte(secret))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("console: users file: %w", err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("console: users file %s lists no users", path)
	}
	return users, nil
}
