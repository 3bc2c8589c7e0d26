// Package gbid checks the shape of GB/T 28181 identifiers: a device,
// channel or platform id is 20 decimal digits and a SIP domain 10, the
// first ten of an id being its domain (GB/T 28181-2016 Annex D). It is
// shared by the configuration checks and both SIP sides, so that all
// three agree on what an id is.
package gbid

// Digits tells whether s is exactly n decimal digits.
func Digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
