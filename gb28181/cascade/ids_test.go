package cascade

import (
	"testing"

	"github.com/skyrelay/skyrelay/gb28181/gbid"
)

func TestIDs(t *testing.T) {
	a, b := newIDs(lowerID), newIDs(lowerID)
	seen := map[string]string{}
	for i := 0; i < 5000; i++ {
		key := "live/cam" + string(rune('a'+i%26)) + "/" + itoa(i)
		id := a.id(typeIPC, key)
		if len(id) != 20 || !gbid.Digits(id, 20) || id[:10] != lowerID[:10] || id[10:13] != typeIPC {
			t.Fatalf("id %q for %q", id, key)
		}
		if other, dup := seen[id]; dup {
			t.Fatalf("%q and %q share %s", key, other, id)
		}
		seen[id] = key
		if a.id(typeIPC, key) != id {
			t.Fatal("an id changed on the second ask")
		}
	}
	// Another instance (a restart) gives the same id for the same path,
	// barring hash collisions, which are rare at this size.
	same := 0
	for id, key := range seen {
		if b.id(typeIPC, key) == id {
			same++
		}
	}
	if same < len(seen)-len(seen)/100 {
		t.Fatalf("only %d of %d ids stable across instances", same, len(seen))
	}
	if a.id(typeCamera, "x") == a.id(typeIPC, "x") {
		t.Fatal("type code not part of the id")
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"live/a", "live/a", true},
		{"live/*", "live/a", true},
		{"live/*", "live/a/b", false},
		{"live/**", "live/a/b", true},
		{"**", "x", true},
		{"**/normal-0", "SN/99-0-0/normal-0", true},
		{"live/cam*", "live/cam12", true},
		{"live/cam*x", "live/cam12", false},
		{"*/*/zoom-*", "SN/99-0-0/zoom-0", true},
		{"live", "live/a", false},
	} {
		if got := offered([]string{tc.pattern}, tc.path); got != tc.want {
			t.Errorf("%q ~ %q = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
	if !offered(nil, "any/thing") || offered([]string{"live/*"}, "other/a") {
		t.Fatal("offered")
	}
}
