package gbid

import "testing"

func TestDigits(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want bool
	}{
		{"34020000002000000001", 20, true},
		{"3402000000", 10, true},
		{"3402000000", 20, false},
		{"340200000020000000011", 20, false},
		{"3402000000200000000a", 20, false},
		{"34020000002000000０01", 20, false}, // a full-width digit
		{"-402000000", 10, false},
		{"", 0, true},
		{"", 10, false},
	} {
		if got := Digits(tc.s, tc.n); got != tc.want {
			t.Errorf("Digits(%q, %d) = %v, want %v", tc.s, tc.n, got, tc.want)
		}
	}
}
