// Package sdp reads and writes the SDP bodies of GB/T 28181 INVITEs and
// their answers (GB/T 28181-2016 Annex F, 2022 Annex G).
//
// GB SDP is RFC 4566 SDP with two extra lines, y= (the SSRC as 10 decimal
// digits) and f= (media format), which general SDP parsers reject (pion/sdp
// and gortsplib's both do). This package is a small line-based reader that
// accepts CRLF or LF, stray spaces, unknown lines and those two, and a
// writer that emits the fields in the standard's order and ends the body
// with CRLF (Hikvision answers 415 otherwise).
package sdp
