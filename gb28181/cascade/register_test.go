package cascade

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestRegister registers with digest with and without qop=auth over UDP
// and TCP, refreshes, keeps alive, and unregisters (Expires 0) at Close.
func TestRegister(t *testing.T) {
	for _, tc := range []struct {
		transport string
		qop       bool
	}{{"udp", false}, {"udp", true}, {"tcp", false}, {"tcp", true}} {
		t.Run(fmt.Sprintf("%s/qop=%v", tc.transport, tc.qop), func(t *testing.T) {
			ctx := testpeer.Context(t, 20*time.Second)
			up := newUpper(t, tc.transport, tc.qop)
			u := newLower(t, up, newHub(t), func(u *Upstream) {
				u.RegisterExpires = 2 * time.Second // refresh at 1.6 s
				u.KeepaliveInterval = 300 * time.Millisecond
			})
			up.next(ctx, "REGISTER", isMethod(sip.REGISTER))
			waitState(ctx, t, u, StateRegistered)
			ka := up.next(ctx, "keepalive", isCmd(sip.MESSAGE, "Keepalive"))
			if f := ka.From(); f == nil || f.Address.User != lowerID {
				t.Fatalf("keepalive From %v", ka.From())
			}
			if ct := ka.GetHeader("Content-Type"); ct == nil || ct.Value() != "Application/MANSCDP+xml" {
				t.Fatalf("keepalive Content-Type %v", ct)
			}
			refresh := up.next(ctx, "refresh REGISTER", isMethod(sip.REGISTER))
			if refresh.CallID().Value() != up.firstCallID(t) {
				t.Fatalf("a refresh keeps the Call-ID")
			}
			if in := u.Info(); in.LastKeepalive == nil || in.KeepaliveCode != 200 || in.State != StateRegistered {
				t.Fatalf("info %+v", in)
			}
			u.Close()
			up.mu.Lock()
			last := up.registers[len(up.registers)-1]
			up.mu.Unlock()
			if last != 0 {
				t.Fatalf("last REGISTER Expires %d, want 0 (unregister)", last)
			}
			if u.State() != StateClosed {
				t.Fatalf("state %s", u.State())
			}
		})
	}
}

func (up *upper) firstCallID(t testing.TB) string {
	t.Helper()
	up.mu.Lock()
	defer up.mu.Unlock()
	return up.callIDs[0]
}

// TestRegisterWrongPassword stays offline and retries with back-off.
func TestRegisterWrongPassword(t *testing.T) {
	ctx := testpeer.Context(t, 10*time.Second)
	up := newUpper(t, "udp", true)
	u := newLower(t, up, newHub(t), func(u *Upstream) { u.Password = "wrong" })
	waitState(ctx, t, u, StateOffline)
	if in := u.Info(); in.Error == "" {
		t.Fatalf("no error shown: %+v", in)
	}
	if up.registerCount() != 0 {
		t.Fatal("a wrong password registered")
	}
}

// TestUpstreamForgets: a keepalive answered 404 (the upstream restarted)
// makes the lower register again at once, with a new Call-ID.
func TestUpstreamForgets(t *testing.T) {
	ctx := testpeer.Context(t, 10*time.Second)
	up := newUpper(t, "udp", false)
	u := newLower(t, up, newHub(t), func(u *Upstream) { u.KeepaliveInterval = 100 * time.Millisecond })
	first := up.next(ctx, "REGISTER", isMethod(sip.REGISTER))
	up.kaCode.Store(404)
	up.next(ctx, "keepalive", isCmd(sip.MESSAGE, "Keepalive"))
	up.kaCode.Store(200)
	again := up.next(ctx, "REGISTER after 404", isMethod(sip.REGISTER))
	if again.CallID().Value() == first.CallID().Value() {
		t.Fatal("re-registration after the upstream forgot us reuses the Call-ID")
	}
	waitState(ctx, t, u, StateRegistered)
	if u.stats.keepaliveFailures.Load() == 0 {
		t.Fatal("keepalive failure not counted")
	}
}

// TestKeepaliveSilence: three unanswered keepalives make the upstream
// offline; the lower then registers again.
func TestKeepaliveSilence(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	up := newUpper(t, "udp", false)
	u := newLower(t, up, newHub(t), func(u *Upstream) {
		u.KeepaliveInterval = 100 * time.Millisecond
		u.RequestTimeout = 100 * time.Millisecond
	})
	up.next(ctx, "REGISTER", isMethod(sip.REGISTER))
	waitState(ctx, t, u, StateRegistered)
	n := up.registerCount()
	up.kaCode.Store(0)
	waitState(ctx, t, u, StateOffline)
	up.kaCode.Store(200)
	up.next(ctx, "REGISTER after silence", isMethod(sip.REGISTER))
	if up.registerCount() != n+1 {
		t.Fatalf("%d registrations, want %d", up.registerCount(), n+1)
	}
	waitState(ctx, t, u, StateRegistered)
	if got := u.stats.keepaliveFailures.Load(); got < MissedKeepalives {
		t.Fatalf("%d keepalive failures counted", got)
	}
}
