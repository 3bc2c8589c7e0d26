//go:build !linux

package main

// steadySysmon is measured and needed on Linux only (see sysmon_linux.go).
func steadySysmon() {}
